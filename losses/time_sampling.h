// Sampling the diffusion time t in [eps, T] for a loss, with the exact density of what is
// sampled, so that E_{t~q}[W(t)/q(t) f(t)] = int W(t) f(t) dt for any proposal q:
//   uniform     q = 1/(T - eps)
//   log_snr     lambda(t) uniform between lambda(T) and lambda(eps) (Kingma et al. 2021)
//   importance  q proportional to a weight W(t) (tabulated; Song et al. 2021b sec. 5)
// Non-uniform proposals are tabulated on a fine grid of t and inverted piecewise linearly; the
// density used is that of the piecewise-linear inverse itself, so estimates stay unbiased.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "core/table_cache.h"

namespace scorelab {

class SDE;

class TimeSampler {
 public:
  // mode: uniform | log_snr | importance (then `weight` gives W(t) on float64 t).
  TimeSampler(const std::string& mode, const SDE& sde, double eps,
              const std::function<at::Tensor(const at::Tensor&)>& weight = {}, int64_t table = 4096);
  // t [n] and q(t) [n] in `opts`' dtype and device.
  std::pair<at::Tensor, at::Tensor> sample(int64_t n, at::Generator& gen, const at::TensorOptions& opts) const;
  const std::string& mode() const { return mode_; }
  // q where it does not depend on t (uniform: 1 / (T - eps)); then sample_t() suffices.
  std::optional<double> constant_density() const;
  at::Tensor sample_t(int64_t n, at::Generator& gen, const at::TensorOptions& opts) const;

 private:
  std::string mode_;
  double eps_, T_;
  at::Tensor grid_, cdf_;  // float64 [M + 1], cdf from 0 to 1 (non-uniform modes)
  std::shared_ptr<TableCache> cache_ = std::make_shared<TableCache>();  // grid_ and cdf_ on other devices
};

}  // namespace scorelab
