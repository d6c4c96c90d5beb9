// DDPM's discrete chain (Ho et al. 2020): beta_1..beta_N, alpha_i = 1 - beta_i,
// alpha_bar_i = prod_{j<=i} alpha_j, step i <-> t = i / N, and the VP SDE it defines.
//
// The `ddpm` SDE is a VP SDE whose log alpha_bar(t) interpolates the chain linearly between
// grid points, i.e. beta(t) = -N log(1 - beta_i) on ((i-1)/N, i/N]. Its marginals at t = i/N
// are exactly the chain's, so discrete-time models, losses and samplers (ancestral, DDIM) and
// continuous-time ones (Euler–Maruyama, ODE solvers) run on the same model without mismatch.
#pragma once
#include <memory>

#include "core/table_cache.h"
#include "sde/sde.h"

namespace scorelab {

class Config;

struct DDPMChain {
  int64_t N = 1000;
  at::Tensor betas, alphas, alpha_bars, alpha_bars_prev;  // float64 [N]; entry i-1 is step i
  at::Tensor log_alpha_bar_grid;                          // float64 [N + 1]; entry 0 is t = 0
  at::Tensor post_c0, post_ct, post_var;                  // float64 [N]: the posterior's tables below
  // The tables above on the devices and in the dtypes they are used with, each copied once.
  std::shared_ptr<TableCache> cache = std::make_shared<TableCache>();

  // Linear betas from beta_1 to beta_N (DDPM sec. 4: 1e-4 .. 0.02, N = 1000) or Nichol &
  // Dhariwal's cosine betas, clipped at 0.999.
  static DDPMChain linear(int64_t N, double beta_1, double beta_N);
  static DDPMChain cosine(int64_t N, double s = 0.008);
  static DDPMChain from_betas(at::Tensor betas);

  // Step index i in 1..N nearest to t * N, as int64 [B].
  at::Tensor step_index(const at::Tensor& t) const;
  // A per-step quantity (a float64 [N] table above, not a temporary: its copies are cached)
  // gathered at steps i, in like's dtype and device.
  at::Tensor at_step(const at::Tensor& table, const at::Tensor& i, const at::Tensor& like) const;
  // Posterior q(x_{i-1} | x_i, x_0) = N(c0 x_0 + ct x_i, beta_tilde_i)  (DDPM eq. 6-7).
  at::Tensor posterior_c0(const at::Tensor& i, const at::Tensor& like) const;
  at::Tensor posterior_ct(const at::Tensor& i, const at::Tensor& like) const;
  at::Tensor posterior_variance(const at::Tensor& i, const at::Tensor& like) const;
};

class DDPMSDE : public SDE {
 public:
  explicit DDPMSDE(DDPMChain chain) : c_(std::move(chain)) {}
  static DDPMChain chain_from(const Config& cfg);
  std::string name() const override { return "ddpm"; }
  at::Tensor drift(const at::Tensor& x, const at::Tensor& t) const override;
  at::Tensor drift_coefficient(const at::Tensor& t) const override;  // -beta / 2
  at::Tensor diffusion(const at::Tensor& t) const override;
  at::Tensor alpha(const at::Tensor& t) const override;
  at::Tensor sigma(const at::Tensor& t) const override;
  at::Tensor dlog_snr_dt(const at::Tensor& t) const override;
  const DDPMChain* ddpm_chain() const override { return &c_; }
  Conditioning natural_conditioning() const override { return Conditioning::index; }
  // With dt = 1/N at t = i/N this is exactly the chain's step: f = (sqrt(1 - beta_i) - 1) x,
  // G = sqrt(beta_i); in general beta_i = 1 - alpha_bar(t) / alpha_bar(t - dt).
  Discrete discretize(const at::Tensor& x, const at::Tensor& t, double dt) const override;
  at::Tensor beta(const at::Tensor& t) const;  // piecewise constant

 private:
  at::Tensor log_alpha_bar(const at::Tensor& t) const;
  DDPMChain c_;
};

}  // namespace scorelab
