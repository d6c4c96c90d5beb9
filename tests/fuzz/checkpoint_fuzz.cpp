// The checkpoint loader on arbitrary bytes (targets.h says what passes).
// SCORELAB_FUZZ_SEEDS=DIR writes real checkpoints of the target's model (with optimizer and EMA
// parts) into DIR as seeds and exits (scripts/fuzz.sh): mutations of a valid file reach the
// checksum and shape checks, which random bytes never do.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "targets.h"

namespace {

void write_seeds(const std::string& dir) {
  at::manual_seed(0);
  scorelab::fuzz::CheckpointState s;
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
  scorelab::fuzz::check_checkpoint(scorelab::fuzz::as_file(data, size, ".pt"));
  return 0;
}
