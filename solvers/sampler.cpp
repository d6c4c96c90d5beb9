#include "solvers/sampler.h"

#include <chrono>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "networks/score_model.h"

namespace scorelab {

GridSampler::GridSampler(std::string name, at::Tensor grid, std::shared_ptr<const StepRule> rule, bool denoise_final,
                         std::map<std::string, std::string> settings)
    : name_(std::move(name)), grid_(std::move(grid)), rule_(std::move(rule)), denoise_final_(denoise_final),
      settings_(std::move(settings)) {}

SampleResult GridSampler::sample(const ScoreModel& model, const at::Tensor& x_T, const NoiseSource& noise,
                                 const StepObserver& observer) const {
  at::NoGradGuard no_grad;  // not InferenceMode: energy models need autograd inside the step
  auto t0 = std::chrono::steady_clock::now();
  int64_t nfe0 = model.nfe();
  const int64_t K = grid_.size(0) - 1;
  auto ts = grid_.accessor<double, 1>();
  at::Tensor x = x_T;
  for (int64_t k = 0; k < K; ++k) {
    x = rule_->step(model, x, ts[k], ts[k + 1], k, k == K - 1, noise);
    if (observer) observer(StepInfo{k, K, ts[k], ts[k + 1], x});
  }
  if (denoise_final_) x = model.x0(x, at::full({x.size(0)}, ts[K], x.options()));  // Tweedie
  SampleResult r;
  r.x = x;
  r.nfe = model.nfe() - nfe0;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

at::Tensor prior_noise(const ScoreModel& model, uint64_t seed, int64_t first, int64_t count,
                       at::IntArrayRef per_sample_shape, const at::TensorOptions& opts) {
  NoiseSource src = NoiseSource::range(seed, first, count, opts.device());
  at::Tensor z = counter_normal(seed, src.indices, /*stream=*/0, per_sample_shape, opts.dtype().toScalarType());
  return model.sde().prior_from_normal(z.to(opts.device()));
}

}  // namespace scorelab
