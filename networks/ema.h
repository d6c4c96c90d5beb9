// Exponential moving average of weights, used for sampling by default (DDPM sec. 4 uses
// decay 0.9999). With warm-up the decay is min(decay, (1 + n) / (10 + n)) after n updates,
// so early averages are not dominated by the random initialisation.
#pragma once
#include <vector>

#include <ATen/core/Tensor.h>

namespace scorelab {

class EMA {
 public:
  EMA(double decay, bool warmup) : decay_(decay), warmup_(warmup) {}
  // A power-function EMA (networks/posthoc_ema.h): decay (1 - 1/t)^(gamma + 1) at update t.
  static EMA power(double gamma) {
    EMA e(0, false);
    e.gamma_ = gamma;
    return e;
  }
  bool is_power() const { return gamma_ >= 0; }
  double gamma() const { return gamma_; }
  // shadow := copy of params, held as views into one contiguous buffer (flat()).
  void init(const std::vector<at::Tensor>& params);
  void update(const std::vector<at::Tensor>& params);  // shadow := d shadow + (1 - d) params
  void copy_to(const std::vector<at::Tensor>& params) const;
  // shadow := values (a checkpoint's), copied into the existing buffer; sizes must match.
  void assign(const std::vector<at::Tensor>& values);
  double current_decay() const;
  double decay() const { return decay_; }

  std::vector<at::Tensor>& shadow() { return shadow_; }
  const std::vector<at::Tensor>& shadow() const { return shadow_; }
  int64_t updates() const { return updates_; }
  void set_updates(int64_t n) { updates_ = n; }
  // For an optimizer that updates flat() itself (networks/fused_adam.h): one more update done.
  void count_update() { ++updates_; }
  at::Tensor& flat() { return flat_; }
  const at::Tensor& flat() const { return flat_; }

 private:
  double decay_;
  bool warmup_;
  double gamma_ = -1;  // >= 0: a power-function EMA
  int64_t updates_ = 0;
  std::vector<at::Tensor> shadow_;
  at::Tensor flat_;
};

}  // namespace scorelab
