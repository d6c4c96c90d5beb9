// Adam, global gradient-norm clipping and the EMA of the weights in one pass over one contiguous
// buffer. The parameters become views into that buffer (their values kept), as do Adam's moments
// and the EMA's shadow, so a step is two loops over memory (sum of squares; update) instead of
// ~10 small operations per parameter tensor. Same arithmetic as torch.optim.Adam or AdamW (1.13,
// with their weight decay) after clip_grad_norm_, followed by an EMA lerp, up to float rounding
// (tested against them).
// On other devices the same step runs as ~10 operations on the flat buffers.
#pragma once
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/checkpoint.h"
#include "networks/ema.h"

namespace scorelab {

struct AdamOptions {
  double lr = 1e-3;  // the next step's learning rate (set_lr: a schedule)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // torch.optim.Adam's weight_decay (an L2 term added to the clipped gradient) or, with
  // `decoupled`, torch.optim.AdamW's (p scaled by 1 - lr wd before the update).
  double weight_decay = 0;
  bool decoupled = false;
  double grad_clip = 0;  // global norm bound; 0: no clipping
  bool cpu_loop = true;  // false: the tensor-operation step of other devices, also on the CPU (tests)
};

class FusedAdam : public CheckpointPart {
 public:
  // `params` (same dtype and device) are rebound to views of one buffer; `ema` (may be null) is
  // initialised from them and updated by every step.
  FusedAdam(std::vector<at::Tensor> params, AdamOptions opts, EMA* ema);

  // Gradients to undefined: the next backward writes fresh tensors (no zeroing pass).
  void zero_grad();
  // Clip, Adam, EMA. Returns the global gradient norm before clipping (0-d, on the device).
  // Parameters without a gradient keep their value and moments. A non-finite norm (a NaN or
  // infinite gradient) changes nothing — parameters, moments, EMA, step count — and counts in
  // skipped() (off the CPU this reads the norm on the host: one sync per step).
  at::Tensor step();
  int64_t skipped() const { return skipped_; }
  // Every parameter and EMA weight finite: one reduction over each flat buffer.
  bool finite() const;
  // After the parameters' storage was replaced (a module load): copies their values into the
  // buffer and makes them views again.
  void rebind();

  int64_t steps() const { return step_; }
  const AdamOptions& options() const { return opts_; }
  void set_lr(double lr) { opts_.lr = lr; }
  // The moments as flat buffers (tests).
  const at::Tensor& exp_avg() const { return m_; }
  const at::Tensor& exp_avg_sq() const { return v_; }

  // Checkpoint: step count and moments. load() also reads a torch::optim::Adam archive (the
  // format of checkpoints written before this optimizer).
  void save(torch::serialize::OutputArchive& ar) const override;
  void load(torch::serialize::InputArchive& ar) override;
  std::vector<at::Tensor> checksum_tensors() const override;

 private:
  at::Tensor step_cpu(double clip_norm);
  at::Tensor step_flat_ops(double clip_norm);
  void load_torch_adam(torch::serialize::InputArchive& ar);

  std::vector<at::Tensor> params_;
  std::vector<int64_t> offset_;  // params_[i] is flat_[offset_[i] : offset_[i + 1]]
  at::Tensor flat_, m_, v_;
  AdamOptions opts_;
  EMA* ema_;
  int64_t step_ = 0, skipped_ = 0;
};

}  // namespace scorelab
