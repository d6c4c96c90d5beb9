// Checkpoints: model, EMA weights, optimizer, step, RNG state and the resolved config in one
// file, written atomically (core/fsutil.h): a reader sees the old file or the new one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace torch {
namespace nn {
class Module;
}
namespace serialize {
class InputArchive;
class OutputArchive;
}  // namespace serialize
}  // namespace torch

namespace scorelab {

// State a checkpoint keeps beside the model (the optimizer's), in its own sub-archive.
class CheckpointPart {
 public:
  virtual ~CheckpointPart() = default;
  virtual void save(torch::serialize::OutputArchive& ar) const = 0;
  virtual void load(torch::serialize::InputArchive& ar) = 0;
  // The state's tensors, for the checkpoint's checksum (computed at save, checked after load).
  virtual std::vector<at::Tensor> checksum_tensors() const { return {}; }
};

// 64-bit FNV-1a over 8-byte words (then the tail bytes): any single changed word changes the
// result. Tensors contribute their dtype, shape and bytes.
class Checksum {
 public:
  void bytes(const void* data, size_t n);
  void text(const std::string& s);
  void number(int64_t v) { bytes(&v, sizeof v); }
  void tensor(const at::Tensor& t);
  int64_t value() const { return static_cast<int64_t>(h_); }

 private:
  uint64_t h_ = 14695981039346656037ULL;
};

struct CheckpointMeta {
  int64_t step = 0;
  std::string config_yaml;  // the resolved config of the run that wrote it
  std::vector<at::Tensor> rng_states;  // training generators' states, in the trainer's order
  int64_t ema_updates = 0;  // number of EMA updates (for the warm-up schedule)
  std::vector<at::Tensor> stream_state;  // the data loader's position (Dataset::stream_state)
  std::vector<at::Tensor> loop_state;    // the training loop's partial log interval
  // More EMAs (train.ema_decays): their decays (float64 [K]) first, then each one's weights as
  // one flat buffer in the order of the model's parameters. Empty: only the main EMA.
  std::vector<at::Tensor> more_ema;
  // The power-function EMAs of train.posthoc_ema: their sigma_rels (float64 [K]), then each
  // one's flat weights. Empty: none.
  std::vector<at::Tensor> posthoc_ema;
};

void save_checkpoint(const std::string& path, torch::nn::Module& model, const std::vector<at::Tensor>& ema,
                     const CheckpointPart* optimizer, const CheckpointMeta& meta);

// Loads into whichever of model / ema / optimizer are given. Throws std::runtime_error with the
// path on a missing or unreadable file, DataError on a checksum mismatch (a flipped bit, a
// truncated or edited file), non-finite weights, or weights of another architecture. Each part
// (metadata, model, EMA, optimizer) has its own checksum, checked when that part is loaded;
// checkpoints of versions before checksums load unchecked.
CheckpointMeta load_checkpoint(const std::string& path, torch::nn::Module* model, std::vector<at::Tensor>* ema,
                               CheckpointPart* optimizer);

}  // namespace scorelab
