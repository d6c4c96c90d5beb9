#include "solvers/sampler.h"

#include <chrono>
#include <cmath>
#include <optional>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include "core/device.h"
#include "networks/score_model.h"

namespace scorelab {

void StepContext::record_score(const at::Tensor& x, const at::Tensor& s) {
  if (want_x0) x0 = (x + (sigma() * sigma()) * s) / alpha();
}

at::Tensor StepContext::normal_like(const at::Tensor& x, int64_t j) const {
  if (noise.brownian_T > 0 && j == 0) {
    const double t0 = t(), t1 = t_next();
    at::Tensor dw = noise.brownian_like(x, t0) - noise.brownian_like(x, t1);
    return (dw / std::sqrt(t0 - t1)).to(x.scalar_type());
  }
  return noise.normal_like(x, (k + 1) + NoiseSource::kSubStream * j);
}

SamplingModeGuard::SamplingModeGuard(const ScoreModel& model) {
  if (model.needs_autograd())
    no_grad_.emplace();
  else
    inference_.emplace();
}

Sampler::Sampler(std::string name, at::Tensor grid, std::shared_ptr<const StepRule> rule, bool denoise_final)
    : name_(std::move(name)), grid_(std::move(grid)), rule_(std::move(rule)), denoise_final_(denoise_final) {}

Schedule Sampler::schedule(const ScoreModel& model, const at::TensorOptions& opts) const {
  Schedule s = make_schedule(model.sde(), grid_, opts);
  rule_->prepare(model, s);
  return s;
}

SampleResult Sampler::sample(const ScoreModel& model, const at::Tensor& x_T, const NoiseSource& noise_in,
                             const StepObserver& observer) const {
  NoiseSource noise = noise_in;
  if (brownian_) noise.brownian_T = model.sde().T();
  SamplingModeGuard mode(model);
  synchronize(x_T.device());  // the clock times this sampling, not work queued before it
  auto t0 = std::chrono::steady_clock::now();
  const int64_t nfe0 = model.nfe();
  const Schedule sched = schedule(model, x_T.options());
  std::unique_ptr<RuleState> state = rule_->state();
  const int64_t K = sched.steps();
  at::Tensor x = x_T;
  for (int64_t k = 0; k < K; ++k) {
    StepContext ctx{sched, k, k == K - 1, noise, state.get()};
    ctx.want_x0 = static_cast<bool>(observer);
    x = rule_->step(model, x, ctx);
    if (observer) observer(StepInfo{k, K, sched.t[k], sched.t[k + 1], x, ctx.x0});
  }
  if (denoise_final_) x = model.x0(x, sched.time(K, x.size(0)));  // Tweedie
  x = rule_->finish(x, noise);
  SampleResult r;
  r.x = x;
  r.nfe = model.nfe() - nfe0;
  synchronize(x.device());
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (state) r.stats = state->stats;
  return r;
}

at::Tensor prior_noise(const ScoreModel& model, uint64_t seed, int64_t first, int64_t count,
                       at::IntArrayRef per_sample_shape, const at::TensorOptions& opts) {
  NoiseSource src = NoiseSource::range(seed, first, count, opts.device());
  at::Tensor z = counter_normal(seed, src.indices, /*stream=*/0, per_sample_shape, opts.dtype().toScalarType());
  return model.sde().prior_from_normal(z.to(opts.device()));
}

}  // namespace scorelab
