#include "networks/ema.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace scorelab {

void EMA::init(const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  shadow_.clear();
  for (const auto& p : params) shadow_.push_back(p.detach().clone());
  updates_ = 0;
}

double EMA::current_decay() const {
  double n = static_cast<double>(updates_);
  return warmup_ ? std::min(decay_, (1.0 + n) / (10.0 + n)) : decay_;
}

void EMA::update(const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  double d = current_decay();
  for (size_t i = 0; i < params.size(); ++i) shadow_[i].lerp_(params[i].detach(), 1.0 - d);
  ++updates_;
}

void EMA::copy_to(const std::vector<at::Tensor>& params) const {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(shadow_[i]);
}

}  // namespace scorelab
