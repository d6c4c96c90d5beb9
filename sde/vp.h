// Variance-preserving SDEs: dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw (Song et al. 2021,
// eq. 11) and sub-VP, dx = -beta x / 2 dt + sqrt(beta (1 - exp(-2 int_0^t beta))) dw (eq. 12).
// Both share a beta schedule: linear beta(t) = beta_min + t (beta_max - beta_min), or the
// cosine schedule of Nichol & Dhariwal 2021 (eq. 17) in continuous time.
#pragma once
#include <memory>

#include "sde/sde.h"

namespace scorelab {

class Config;

class BetaSchedule {
 public:
  virtual ~BetaSchedule() = default;
  virtual at::Tensor beta(const at::Tensor& t) const = 0;       // beta(t) = -d log alpha^2 / dt
  virtual at::Tensor log_alpha(const at::Tensor& t) const = 0;  // -1/2 int_0^t beta
  virtual double T() const { return 1.0; }
  virtual std::string name() const = 0;
};

struct LinearBetaOptions {
  double beta_min = 0.1, beta_max = 20.0;
};
class LinearBeta : public BetaSchedule {
 public:
  explicit LinearBeta(LinearBetaOptions o) : o_(o) {}
  at::Tensor beta(const at::Tensor& t) const override;
  at::Tensor log_alpha(const at::Tensor& t) const override;  // -t^2 (b1 - b0)/4 - t b0/2
  std::string name() const override { return "linear"; }

 private:
  LinearBetaOptions o_;
};

// alpha^2(t) = cos^2(phi(t)) / cos^2(phi(0)), phi(t) = (t + s)/(1 + s) pi/2, s = 0.008;
// beta(t) = pi tan(phi(t)) / (1 + s). beta diverges at t = 1, so T is where beta reaches
// beta_clip (999 by default: alpha(T)^2 ~ 1e-5, the same clip as Nichol & Dhariwal's 0.999
// per step of 1/1000).
struct CosineBetaOptions {
  double s = 0.008, beta_clip = 999.0;
};
class CosineBeta : public BetaSchedule {
 public:
  explicit CosineBeta(CosineBetaOptions o);
  at::Tensor beta(const at::Tensor& t) const override;
  at::Tensor log_alpha(const at::Tensor& t) const override;
  double T() const override { return T_; }
  std::string name() const override { return "cosine"; }

 private:
  CosineBetaOptions o_;
  double T_;
};

std::shared_ptr<BetaSchedule> beta_schedule_from(const Config& cfg);

class VPSDE : public SDE {
 public:
  explicit VPSDE(std::shared_ptr<BetaSchedule> s = std::make_shared<LinearBeta>(LinearBetaOptions{}))
      : s_(std::move(s)) {}
  std::string name() const override { return "vp"; }
  double T() const override { return s_->T(); }
  at::Tensor beta(const at::Tensor& t) const { return s_->beta(t); }
  at::Tensor drift(const at::Tensor& x, const at::Tensor& t) const override;
  at::Tensor drift_coefficient(const at::Tensor& t) const override { return -0.5 * beta(t); }
  at::Tensor diffusion(const at::Tensor& t) const override;
  at::Tensor alpha(const at::Tensor& t) const override;
  // sigma^2 = 1 - alpha^2, computed with expm1 so that it stays accurate for small t.
  at::Tensor sigma(const at::Tensor& t) const override;
  at::Tensor dlog_snr_dt(const at::Tensor& t) const override;  // -beta / sigma^2
  // DDPM's step with beta_i = beta(t) dt: f = (sqrt(1 - beta_i) - 1) x, G = sqrt(beta_i).
  Discrete discretize(const at::Tensor& x, const at::Tensor& t, double dt) const override;

 protected:
  std::shared_ptr<BetaSchedule> s_;
};

class SubVPSDE : public VPSDE {
 public:
  using VPSDE::VPSDE;
  std::string name() const override { return "subvp"; }
  at::Tensor diffusion(const at::Tensor& t) const override;  // sqrt(beta (1 - alpha^4))
  at::Tensor sigma(const at::Tensor& t) const override;      // 1 - alpha^2
  at::Tensor dlog_snr_dt(const at::Tensor& t) const override;
  Discrete discretize(const at::Tensor& x, const at::Tensor& t, double dt) const override {
    return SDE::discretize(x, t, dt);  // Euler–Maruyama (score_sde has no special step either)
  }
};

}  // namespace scorelab
