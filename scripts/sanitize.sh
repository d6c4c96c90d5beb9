#!/usr/bin/env bash
# Builds scorelab and its tests with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ and runs the test suite there (or the Catch2 test-name filters given as arguments).
# Not part of CI (it roughly doubles the 2-core budget); see docs/reliability.md for its time.
# LibTorch itself is not instrumented: reports point into scorelab's code. Leak checking is off
# (LibTorch keeps process-lifetime allocations).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=${JOBS:-$(nproc)}
FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$FLAGS" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan -j "$JOBS"
# allocator_may_return_null: an absurd allocation (a damaged file's header) returns NULL, as glibc's
# malloc does in a normal build, instead of ASan aborting (tests/fuzz/regressions).
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-asan
if [ $# -gt 0 ]; then
  for filter in "$@"; do ./scorelab_tests "$filter"; done
else
  ctest --output-on-failure -j "$JOBS"
fi
