#include "solvers/langevin.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/euler_maruyama.h"
#include "solvers/grid_config.h"
#include "solvers/steps.h"

namespace scorelab {

at::Tensor AnnealedLangevinStep::step(const ScoreModel& model, const at::Tensor& x_in, StepContext& ctx) const {
  at::Tensor tt = ctx.time(x_in);
  const double sigma = ctx.sigma();
  double a = step_lr_ * sigma * sigma / (sigma_last_ * sigma_last_);  // Song & Ermon 2019, Alg. 1
  at::Tensor x = x_in;
  for (int64_t j = 0; j < n_; ++j) {
    at::Tensor z = ctx.normal_like(x, j);
    at::Tensor s = model.score(x, tt);
    if (j == 0) ctx.record_score(x, s);
    x = x + (0.5 * a) * s + std::sqrt(a) * z;
  }
  return x;
}

at::Tensor PredictorCorrectorStep::step(const ScoreModel& model, const at::Tensor& x_in, StepContext& ctx) const {
  at::Tensor tt = ctx.time(x_in);
  const double a = std::pow(ctx.alpha() / ctx.alpha_next(), 2);
  at::Tensor x = x_in;
  for (int64_t j = 0; j < n_; ++j) {
    at::Tensor s = model.score(x, tt);
    at::Tensor z = ctx.normal_like(x, j + 1);
    // Batch means of the norms, as in score_sde: a per-sample ||s|| near a saddle of log p
    // (||s|| ~ 0) would give that sample an unbounded step.
    at::Tensor z_norm = z.reshape({z.size(0), -1}).norm(2, 1).mean();
    at::Tensor s_norm = s.reshape({s.size(0), -1}).norm(2, 1).mean();
    at::Tensor step = 2 * a * (snr_ * z_norm / s_norm.clamp_min(1e-12)).pow(2);
    x = x + step * s + at::sqrt(2 * step) * z;
  }
  return predictor_->step(model, x, ctx);
}

std::shared_ptr<Sampler> annealed_langevin_sampler_from(const Config& c, const SDE& sde) {
  const double eps = c.get_double("eps", 1e-3, 0.0, sde.T());
  at::Tensor ends = sde.sigma(at::tensor({eps, sde.T()}, at::kDouble));
  const double s_lo = ends[0].item<double>(), s_hi = ends[1].item<double>();
  int64_t L = c.get_int("levels", 10, 1, 100000);
  double smin = c.get_double("sigma_min", s_lo, s_lo * (1 - 1e-9), s_hi);
  double smax = c.get_double("sigma_max", s_hi, smin, s_hi * (1 + 1e-9));
  double lr = c.get_positive("step_lr", 2e-5);
  int64_t n = c.get_int("steps_per_level", 100, 1, 1000000);
  bool denoise = c.get_bool("denoise", false);
  std::vector<double> ts;
  for (int64_t l = 0; l < L; ++l) {
    double s = L == 1 ? smin : smax * std::pow(smin / smax, static_cast<double>(l) / (L - 1));
    ts.push_back(time_of_sigma(sde, s, eps, sde.T()));
  }
  ts.push_back(ts.back());
  return std::make_shared<Sampler>("annealed_langevin", at::tensor(ts, at::kDouble),
                                   std::make_shared<AnnealedLangevinStep>(lr, smin, n), denoise);
}

std::shared_ptr<Sampler> pc_sampler_from(const Config& c, const SDE& sde) {
  std::string pred =
      c.get_choice("predictor", "reverse_diffusion", {"euler_maruyama", "reverse_diffusion", "ancestral", "none"});
  int64_t n = c.get_int("corrector_steps", 1, 0, 1000);
  double snr = c.get_positive("snr", 0.16);
  std::shared_ptr<const StepRule> p;
  if (pred == "euler_maruyama") p = std::make_shared<EulerMaruyamaStep>();
  if (pred == "reverse_diffusion") p = std::make_shared<ReverseDiffusionStep>();
  if (pred == "ancestral")
    p = std::make_shared<AncestralStep>(c.get_choice("variance", "beta", {"beta", "beta_tilde"}) == "beta_tilde");
  if (pred == "none") p = std::make_shared<IdentityStep>();
  GridSpec g = continuous_grid(c, sde, 1000, "uniform");
  return std::make_shared<Sampler>("pc", g.grid, std::make_shared<PredictorCorrectorStep>(p, n, snr), g.denoise);
}

}  // namespace scorelab
