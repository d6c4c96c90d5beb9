// The checkpoint loader on arbitrary bytes: a checkpoint, or an error naming the file.
// The model is a Linear(3, 4) with the trainer's optimizer (FusedAdam, EMA), so that a real
// checkpoint of it loads through every part (metadata, model, EMA, optimizer).
// SCORELAB_FUZZ_SEEDS=DIR writes such checkpoints into DIR as seeds and exits (scripts/fuzz.sh):
// mutations of a valid file reach the checksum and shape checks, which random bytes never do.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "core/checkpoint.h"
#include "fuzz_util.h"
#include "networks/ema.h"
#include "networks/fused_adam.h"

namespace {

struct State {
  torch::nn::Linear net{3, 4};
  scorelab::EMA ema{0.999, true};
  scorelab::FusedAdam adam{net->parameters(), scorelab::AdamOptions{}, &ema};
};

void write_seeds(const std::string& dir) {
  at::manual_seed(0);
  State s;
  scorelab::CheckpointMeta meta;
  scorelab::save_checkpoint(dir + "/empty_meta.pt", *s.net, s.ema.shadow(), &s.adam, meta);
  // One optimizer step (moments non-zero), and every metadata field set.
  for (auto& p : s.net->parameters()) p.mutable_grad() = at::ones_like(p);
  s.adam.step();
  meta.step = 7;
  meta.config_yaml = "run: {name: fuzz}\ntrain: {steps: 10}\n";
  meta.rng_states = {at::arange(16, at::kByte)};
  meta.ema_updates = 1;
  meta.stream_state = {at::arange(5, at::kLong)};
  meta.loop_state = {at::zeros({3}, at::kDouble)};
  scorelab::save_checkpoint(dir + "/stepped.pt", *s.net, s.ema.shadow(), &s.adam, meta);
  scorelab::save_checkpoint(dir + "/no_optimizer.pt", *s.net, {}, nullptr, meta);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SCORELAB_FUZZ_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = scorelab::fuzz::as_file(data, size, ".pt");
  static State s;
  std::vector<at::Tensor> ema;
  try {
    scorelab::load_checkpoint(path, s.net.get(), &ema, &s.adam);
    s.adam.rebind();
  } catch (const std::runtime_error& e) {  // DataError and the loader's own errors
    if (std::string(e.what()).find(path) == std::string::npos) throw;  // must name the file
  }
  return 0;
}
