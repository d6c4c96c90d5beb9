// Inpainting and imputation (`sample.inpaint`): some coordinates of each sample are known.
// Replacement (Song et al. 2021, "score_sde", sec. 5 and app. I.2): after every step to t_{k+1}
// the known coordinates are set to a fresh draw of the forward process, alpha_{k+1} x_known +
// sigma_{k+1} z (also at t_0 before the first step), the unknown ones follow the sampler; the
// final samples carry the known values exactly. RePaint resampling (Lugmayr et al. 2022,
// Alg. 1): each step is taken `resample` times, jumping back from t_{k+1} to t_k through the
// forward transition x_k = a x_{k+1} + sqrt(sigma_k^2 - a^2 sigma_{k+1}^2) z, a = alpha_k /
// alpha_{k+1}, between the repeats, each repeat with fresh step noise; NFE x resample.
//
// Both are approximations of the exact conditional p(x_unknown | x_known): the unknown
// coordinates are driven by the score of p_t(x) at a noised x_known, never by the conditional
// score, and the gap shows on closed forms (docs/samplers.md, "Inpainting"; tested).
//
// Sequential Monte Carlo (`particles: M` > 1; the SMCDiff construction of Trippe et al. 2022,
// with adaptive resampling) samples the
// exact conditional in the limit of many particles and small steps, for samplers whose step is
// one Gaussian move x_s ~ N(m(x_t), s^2 I) (euler_maruyama, ancestral). Each sample carries M
// particles. The known coordinates follow one forward-process path per sample, drawn backwards
// from k_{t_0} ~ q(k_{t_0} | k_0) through the bridge q(k_s | k_t, k_0); given the path, the
// forward process leaves x_unknown's conditional on k_0 unchanged, so the filter's target
// p(x_unknown | path) is the conditional. Each step gives particle j the log-weight
// log N(k_s; m(x_j)_known, s^2), moves it, and sets its known coordinates to k_s; a sample's
// particles are resampled (systematic, one uniform per sample and step) when the effective
// sample size (sum w)^2 / sum w^2 falls below `ess_threshold` M. The last step weighs with the
// move's s although it adds no noise, and returns one particle per sample, drawn by its weight.
// Cost: M x the work per step (the NFE count is of network calls, each on M x the batch).
#pragma once
#include <cstdint>
#include <memory>

#include <ATen/core/Tensor.h>

#include "solvers/sampler.h"

namespace scorelab {

class Config;

struct InpaintSpec {
  at::Tensor known;  // float64 [N, ...]: row i % N goes with sample i
  at::Tensor mask;   // float64 [N or 1, ...]: 1 where known
  int64_t resample = 1;
  int64_t particles = 1;         // sequential Monte Carlo when > 1
  double ess_threshold = 0.5;    // resample a sample's particles when ESS < ess_threshold * particles
};

class InpaintStep : public StepRule {
 public:
  InpaintStep(std::shared_ptr<const StepRule> inner, InpaintSpec spec) : inner_(std::move(inner)), spec_(std::move(spec)) {}
  std::unique_ptr<RuleState> state() const override;
  void prepare(const ScoreModel& model, Schedule& s) const override { inner_->prepare(model, s); }
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return true; }
  at::Tensor finish(const at::Tensor& x, const NoiseSource& noise) const override;

 private:
  at::Tensor smc_step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const;
  // The standard deviation of the inner rule's Gaussian move from t_k to t_{k+1} (also on the
  // last step, where the rule adds no noise).
  double move_std(const ScoreModel& model, const StepContext& ctx) const;
  std::shared_ptr<const StepRule> inner_;
  InpaintSpec spec_;
};

// The section's known values and mask for samples of `sample_shape`:
//   values: [..] and mask: [..]  (inline, one sample's worth, flattened; every sample)
//   file: known.h5 with dataset `x` (key `dataset`) [N, ...] and, unless `mask` or `box` is
//   given inline, dataset `mask` [N or 1, ...]
//   box: [row0, row1, col0, col1]: images; the pixels inside the box are unknown, all else known
//   resample: RePaint's repeats per step (1: plain replacement)
//   particles: sequential Monte Carlo with this many particles per sample (1: none);
//   ess_threshold: in (0, 1], default 0.5
InpaintSpec inpaint_from(const Config& c, const std::vector<int64_t>& sample_shape);

// `sampler` with inpainting: refused (config error at `where`) for adaptive one-interval
// samplers (rk45, dpm_solver_adaptive: nothing to replace between steps), and resample > 1
// for multistep samplers (a repeated step would reuse their history) or Brownian-tree noise;
// particles > 1 need a Gaussian-move sampler (euler_maruyama, ancestral), independent noise and
// resample 1.
std::shared_ptr<Sampler> with_inpainting(const Sampler& sampler, InpaintSpec spec, const Config& c);

}  // namespace scorelab
