// The checkpoint loader on arbitrary bytes: a checkpoint, or an error naming the file.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/nn/modules/linear.h>

#include "core/checkpoint.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = scorelab::fuzz::as_file(data, size, ".pt");
  torch::nn::Linear net(3, 4);
  std::vector<at::Tensor> ema;
  try {
    scorelab::load_checkpoint(path, net.get(), &ema, nullptr);
  } catch (const std::runtime_error& e) {  // DataError and the loader's own errors
    if (std::string(e.what()).find(path) == std::string::npos) throw;  // must name the file
  }
  return 0;
}
