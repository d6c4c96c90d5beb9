// Langevin dynamics for score models.
//   Annealed Langevin (Song & Ermon 2019, Alg. 1): for noise levels sigma_1 > ... > sigma_L,
//     a_i = step_lr sigma_i^2 / sigma_L^2, and steps_per_level times
//     x <- x + (a_i / 2) s(x, sigma_i) + sqrt(a_i) z.
//   Langevin corrector (Song et al. 2021, Alg. 4/5): step = 2 a (snr ||z|| / ||s||)^2,
//     x <- x + step s(x, t) + sqrt(2 step) z, a = (alpha(t) / alpha(t_next))^2 (1 for VE,
//     DDPM's alpha_i for VP). The norms are batch means, as in score_sde, so a corrected sample
//     depends on the other samples of its batch (the one sampler here without per-sample
//     batch independence, with RK45's step-size control); per-sample norms are unstable
//     (||s|| ~ 0 at a saddle of log p gives an unbounded step).
//   Predictor–corrector: corrector at t, then any predictor from t to t_next — a composition.
#pragma once
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

class AnnealedLangevinStep : public StepRule {
 public:
  AnnealedLangevinStep(double step_lr, double sigma_last, int64_t steps_per_level)
      : step_lr_(step_lr), sigma_last_(sigma_last), n_(steps_per_level) {}
  // Runs the level at time t_k (t_{k+1} is the next level; it is not used).
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return true; }

 private:
  double step_lr_, sigma_last_;
  int64_t n_;
};

class PredictorCorrectorStep : public StepRule {
 public:
  PredictorCorrectorStep(std::shared_ptr<const StepRule> predictor, int64_t corrector_steps, double snr)
      : predictor_(std::move(predictor)), n_(corrector_steps), snr_(snr) {}
  std::unique_ptr<RuleState> state() const override { return predictor_->state(); }
  void prepare(const ScoreModel& model, Schedule& s) const override { predictor_->prepare(model, s); }
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return n_ > 0 || predictor_->stochastic(); }

 private:
  std::shared_ptr<const StepRule> predictor_;
  int64_t n_;
  double snr_;
};

std::shared_ptr<Sampler> annealed_langevin_sampler_from(const Config& c, const SDE& sde);
std::shared_ptr<Sampler> pc_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
