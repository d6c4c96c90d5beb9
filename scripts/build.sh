#!/usr/bin/env bash
# Configures and builds scorelab into build/ (Release). Extra arguments are CMake targets.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${SCORELAB_CMAKE_ARGS:-} >/dev/null
if [ $# -gt 0 ]; then
  for target in "$@"; do cmake --build build -j "$JOBS" --target "$target"; done
else
  cmake --build build -j "$JOBS"
fi
