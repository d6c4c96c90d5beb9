// The IDX, CIFAR-10 and HDF5 image readers on arbitrary bytes: data or a DataError.
// SCORELAB_FUZZ_SEEDS=DIR writes one small valid file per format into DIR as seeds and exits
// (scripts/fuzz.sh).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include <ATen/ATen.h>

#include "core/error.h"
#include "core/h5log.h"
#include "experiments/data/image_io.h"
#include "fuzz_util.h"

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
  const std::string path = scorelab::fuzz::as_file(data, size, ".bin");
  for (int reader = 0; reader < 4; ++reader) {
    try {
      if (reader == 0) scorelab::read_idx(path, 3);
      if (reader == 1) scorelab::read_idx(path, 1);
      if (reader == 2) scorelab::read_cifar10({path});
      if (reader == 3) scorelab::read_hdf5_images(path, "images", "NCHW", "");
    } catch (const scorelab::DataError&) {
    }
  }
  return 0;
}
