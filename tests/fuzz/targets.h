// What each libFuzzer target checks, shared with the regression test that replays every saved
// finding (tests/fuzz/regressions/<target>/, tests/core/fuzz_regression_test.cpp). Each function
// returns normally when the input was read or refused with scorelab's own error naming the file;
// anything else (another exception, a crash, a sanitizer report) is a finding.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/error.h"
#include "experiments/data/image_io.h"
#include "experiments/run_spec.h"
#include "networks/ema.h"
#include "networks/fused_adam.h"

namespace scorelab::fuzz {

// The config loader and the run specification: a RunSpec, or a ConfigError / DataError.
inline void check_config(const std::string& text) {
  try {
    Config cfg = Config::from_string(text, "fuzz.yaml");
    RunSpec::from(cfg, "fuzz");
  } catch (const ConfigError&) {
  } catch (const DataError&) {
  }
}

// The IDX, CIFAR-10 and HDF5 image readers: data, or a DataError.
inline void check_image_readers(const std::string& path) {
  for (int reader = 0; reader < 4; ++reader) {
    try {
      if (reader == 0) read_idx(path, 3);
      if (reader == 1) read_idx(path, 1);
      if (reader == 2) read_cifar10({path});
      if (reader == 3) read_hdf5_images(path, "images", "NCHW", "");
    } catch (const DataError&) {
    }
  }
}

// A Linear(3, 4) with the trainer's optimizer (FusedAdam, EMA): what checkpoint inputs load into.
struct CheckpointState {
  torch::nn::Linear net{3, 4};
  EMA ema{0.999, true};
  FusedAdam adam{net->parameters(), AdamOptions{}, &ema};
};

// The checkpoint loader: a checkpoint, or a std::runtime_error (DataError included) naming the file.
inline void check_checkpoint(const std::string& path) {
  static CheckpointState s;
  std::vector<at::Tensor> ema;
  try {
    load_checkpoint(path, s.net.get(), &ema, &s.adam);
    s.adam.rebind();
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find(path) == std::string::npos) throw;
  }
}

}  // namespace scorelab::fuzz
