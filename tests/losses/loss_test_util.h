// Shared pieces of the loss tests: Gaussian data, a tractable Gaussian score model with
// learnable mean and log-std, and Monte-Carlo means with standard errors.
#pragma once
#include <cmath>
#include <functional>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "core/config.h"
#include "core/tensor_util.h"
#include "losses/loss.h"
#include "networks/oracle.h"

namespace scorelab::test {

constexpr double kDataStd = 0.7;
inline at::Tensor data_mean() { return at::tensor({0.5, -1.0}, at::kDouble); }

inline GaussianMixture gaussian_data() {
  return GaussianMixture::gaussian_from(Config::from_string("mean: [0.5, -1.0]\nstd: 0.7\n", "test"));
}

// s(x, t) = -(x - alpha m) / (alpha^2 exp(2 log_s) + sigma^2): the exact score of N(m, e^{2 log_s} I)
// perturbed by the SDE, with m and log_s trainable.
struct GaussParamsImpl : torch::nn::Module {
  at::Tensor m, log_s;
  GaussParamsImpl(at::Tensor m0, double log_s0) {
    m = register_parameter("m", m0.clone());
    log_s = register_parameter("log_s", at::full({1}, log_s0, at::kDouble));
  }
};

class GaussianScoreModel : public ScoreModel {
 public:
  GaussianScoreModel(std::shared_ptr<const SDE> sde, at::Tensor m, double log_s)
      : ScoreModel(std::move(sde)), p_(std::make_shared<GaussParamsImpl>(m, log_s)) {}
  torch::nn::Module* module() override { return p_.get(); }
  Parameterization kind() const override { return Parameterization::score; }
  std::vector<at::Tensor> params() const { return {p_->m, p_->log_s}; }

 protected:
  at::Tensor predict(const at::Tensor& x, const at::Tensor& t) const override {
    at::Tensor a = append_dims(sde().alpha(t), x.dim()), s = append_dims(sde().sigma(t), x.dim());
    return -(x - a * p_->m) / (a * a * at::exp(2 * p_->log_s) + s * s);
  }

 private:
  std::shared_ptr<GaussParamsImpl> p_;
};

struct Estimate {
  double mean, se;
};

// Mean and standard error of K independent replicates of a scalar.
inline Estimate replicate(int K, const std::function<double()>& f) {
  std::vector<double> v;
  for (int k = 0; k < K; ++k) v.push_back(f());
  double m = 0, s2 = 0;
  for (double x : v) m += x / K;
  for (double x : v) s2 += (x - m) * (x - m) / (K - 1);
  return {m, std::sqrt(s2 / K)};
}

// Mean and standard error of per-example values.
inline Estimate per_example(const at::Tensor& v) {
  return {v.mean().item<double>(), v.std().item<double>() / std::sqrt(double(v.numel()))};
}

}  // namespace scorelab::test
