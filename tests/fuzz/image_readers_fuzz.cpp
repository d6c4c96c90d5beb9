// The IDX, CIFAR-10 and HDF5 image readers on arbitrary bytes: data or a DataError.
#include <cstdint>
#include <string>

#include "core/error.h"
#include "experiments/data/image_io.h"
#include "fuzz_util.h"

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
