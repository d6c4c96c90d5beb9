#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz/ with clang (ASan + libFuzzer) into build-fuzz/ and
# runs each for SECONDS (default 60), keeping its corpus in build-fuzz/corpus/<target>/.
# Findings are written to build-fuzz/findings/<target>/; turn each into a regression test (a
# case of tests/app/bad_input_test.cpp or a unit test) before fixing it.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh clang libclang-rt-14-dev
SECONDS_EACH=${1:-60}
shift || true
JOBS=${JOBS:-$(nproc)}
FLAGS="-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -g"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address" \
  -DSCORELAB_BUILD_TESTS=OFF -DSCORELAB_BUILD_FUZZERS=ON >/dev/null
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=(config_fuzz image_readers_fuzz checkpoint_fuzz); fi
for t in "${TARGETS[@]}"; do cmake --build build-fuzz -j "$JOBS" --target "$t"; done
# allocator_may_return_null: an absurd allocation (a damaged header's size) returns NULL as
# glibc's malloc does in a normal build, instead of ASan aborting.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
status=0
for t in "${TARGETS[@]}"; do
  corpus=build-fuzz/corpus/$t findings=build-fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  # Seeds: the shipped configs for the config loader; the other targets write small valid files
  # of their formats (real checkpoints, IDX, CIFAR-10 and HDF5 files) for mutation to start from.
  if [ "$t" = config_fuzz ]; then cp -n experiments/configs/*.yaml "$corpus"/ 2>/dev/null || true
  else SCORELAB_FUZZ_SEEDS="$corpus" build-fuzz/"$t"; fi
  echo "== $t: ${SECONDS_EACH} s"
  if ! build-fuzz/"$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -max_len=65536 \
      -artifact_prefix="$findings/" "$corpus" 2>&1 | tail -n 5; then status=1; fi
  ls "$findings" | sed "s|^|  finding: $findings/|"
done
exit $status
