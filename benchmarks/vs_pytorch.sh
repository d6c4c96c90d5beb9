#!/usr/bin/env bash
# The side-by-side table of benchmarks/README.md: installs what is missing (scorelab's packages
# and Debian's python3-torch, the same libtorch 1.13), builds the benchmark program, then runs
# every workload in PyTorch eager Python and in scorelab, interleaved. Arguments go to
# vs_pytorch.py (e.g. --threads 1 --repeats 5 --only mlp_train_64).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch
fi
SCORELAB_CMAKE_ARGS=-DSCORELAB_BUILD_BENCHMARKS=ON bash scripts/build.sh workloads_bench
exec /usr/bin/python3 benchmarks/vs_pytorch.py --bench build/workloads_bench "$@"
