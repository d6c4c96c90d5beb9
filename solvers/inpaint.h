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
};

class InpaintStep : public StepRule {
 public:
  InpaintStep(std::shared_ptr<const StepRule> inner, InpaintSpec spec) : inner_(std::move(inner)), spec_(std::move(spec)) {}
  std::unique_ptr<RuleState> state() const override { return inner_->state(); }
  void prepare(const ScoreModel& model, Schedule& s) const override { inner_->prepare(model, s); }
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;
  bool stochastic() const override { return true; }
  at::Tensor finish(const at::Tensor& x, const NoiseSource& noise) const override;

 private:
  std::shared_ptr<const StepRule> inner_;
  InpaintSpec spec_;
};

// The section's known values and mask for samples of `sample_shape`:
//   values: [..] and mask: [..]  (inline, one sample's worth, flattened; every sample)
//   file: known.h5 with dataset `x` (key `dataset`) [N, ...] and, unless `mask` or `box` is
//   given inline, dataset `mask` [N or 1, ...]
//   box: [row0, row1, col0, col1]: images; the pixels inside the box are unknown, all else known
//   resample: RePaint's repeats per step (1: plain replacement)
InpaintSpec inpaint_from(const Config& c, const std::vector<int64_t>& sample_shape);

// `sampler` with inpainting: refused (config error at `where`) for adaptive one-interval
// samplers (rk45, dpm_solver_adaptive: nothing to replace between steps), and resample > 1
// for multistep samplers (a repeated step would reuse their history) or Brownian-tree noise.
std::shared_ptr<Sampler> with_inpainting(const Sampler& sampler, InpaintSpec spec, const Config& c);

}  // namespace scorelab
