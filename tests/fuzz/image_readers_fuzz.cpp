// The IDX, CIFAR-10 and HDF5 image readers on arbitrary bytes (targets.h says what passes).
// SCORELAB_FUZZ_SEEDS=DIR writes one small valid file per format into DIR as seeds and exits
// (scripts/fuzz.sh).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/h5log.h"
#include "fuzz_util.h"
#include "targets.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* env = std::getenv("SCORELAB_FUZZ_SEEDS")) {
    const std::string dir = env;
    scorelab::write_idx(dir + "/images.idx", at::arange(2 * 3 * 3, at::kLong).to(at::kByte).reshape({2, 3, 3}));
    scorelab::write_idx(dir + "/labels.idx", at::arange(2, at::kLong).to(at::kByte));
    std::string record(1 + 3072, '\x05');
    record[0] = 3;
    std::ofstream(dir + "/cifar.bin", std::ios::binary) << record;
    scorelab::write_h5_file(dir + "/images.h5", "images", at::rand({2, 1, 3, 3}));
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  scorelab::fuzz::check_image_readers(scorelab::fuzz::as_file(data, size, ".bin"));
  return 0;
}
