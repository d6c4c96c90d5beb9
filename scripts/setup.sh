#!/usr/bin/env bash
# Installs everything scorelab needs from Debian packages. Idempotent: packages already
# present are skipped, so a second run costs a few seconds. Extra package names given as
# arguments are installed too (scripts/fuzz.sh adds clang and libFuzzer's runtime).
set -euo pipefail
PKGS=(cmake g++ make libtorch-dev libhdf5-dev libyaml-cpp-dev catch2
      libboost-program-options-dev zlib1g-dev libcairo2-dev pkg-config fonts-dejavu-core
      poppler-utils chromium libopenblas0-openmp
      python3-h5py python3-numpy python3-pandas dataset-fashion-mnist libbenchmark-dev
      libgloo-dev "$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "[setup] installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[setup] all packages present"
fi
