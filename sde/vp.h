// Variance-preserving SDE with linear beta(t) = beta_min + t (beta_max - beta_min):
// dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw  (Song et al. 2021, eq. 11; DDPM in continuous time).
#pragma once
#include "sde/sde.h"

namespace scorelab {

class Config;

struct VPSDEOptions {
  double beta_min = 0.1;  // beta(0)
  double beta_max = 20.0; // beta(1)
};

class VPSDE : public SDE {
 public:
  explicit VPSDE(VPSDEOptions o = {}) : o_(o) {}
  static VPSDEOptions options_from(const Config& cfg);

  std::string name() const override { return "vp"; }
  at::Tensor beta(const at::Tensor& t) const;
  at::Tensor log_alpha(const at::Tensor& t) const;  // -t^2 (b1 - b0)/4 - t b0/2
  at::Tensor drift(const at::Tensor& x, const at::Tensor& t) const override;
  at::Tensor diffusion(const at::Tensor& t) const override;
  at::Tensor alpha(const at::Tensor& t) const override;
  at::Tensor sigma(const at::Tensor& t) const override;
  at::Tensor prior_from_normal(const at::Tensor& z) const override { return z; }
  at::Tensor prior_log_prob(const at::Tensor& x) const override;
  const VPSDEOptions& options() const { return o_; }

 private:
  VPSDEOptions o_;
};

}  // namespace scorelab
