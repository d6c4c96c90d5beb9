#include "networks/ema.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "networks/posthoc_ema.h"

namespace scorelab {

void EMA::init(const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  shadow_.clear();
  int64_t n = 0;
  for (const auto& p : params) n += p.numel();
  flat_ = params.empty() ? at::Tensor() : at::empty({n}, params[0].options().requires_grad(false));
  int64_t at = 0;
  for (const auto& p : params) {
    shadow_.push_back(flat_.narrow(0, at, p.numel()).view(p.sizes()));
    shadow_.back().copy_(p.detach());
    at += p.numel();
  }
  updates_ = 0;
}

void EMA::assign(const std::vector<at::Tensor>& values) {
  torch::NoGradGuard no_grad;
  if (values.size() != shadow_.size())
    throw std::runtime_error("EMA: " + std::to_string(values.size()) + " tensors for " +
                             std::to_string(shadow_.size()) + " parameters");
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i].sizes().equals(shadow_[i].sizes()))
      throw std::runtime_error("EMA: tensor " + std::to_string(i) + " has another shape than its parameter");
    shadow_[i].copy_(values[i]);
  }
}

double EMA::current_decay() const {
  double n = static_cast<double>(updates_);
  if (is_power()) return power_ema_beta(n + 1, gamma_);  // this is update n + 1
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
