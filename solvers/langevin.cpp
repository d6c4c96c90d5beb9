#include "solvers/langevin.h"

#include <cmath>

#include <ATen/ATen.h>

#include "networks/score_model.h"

namespace scorelab {

at::Tensor AnnealedLangevinStep::step(const ScoreModel& model, const at::Tensor& x_in, double t, double, int64_t k,
                                      bool, const NoiseSource& noise) const {
  at::Tensor tt = at::full({x_in.size(0)}, t, x_in.options());
  double sigma = model.sde().sigma(at::full({1}, t, at::kDouble)).item<double>();
  double a = step_lr_ * sigma * sigma / (sigma_last_ * sigma_last_);  // Song & Ermon 2019, Alg. 1
  at::Tensor x = x_in;
  for (int64_t j = 0; j < n_; ++j) {
    at::Tensor z = noise.normal_like(x, (k + 1) + NoiseSource::kSubStream * j);
    x = x + (0.5 * a) * model.score(x, tt) + std::sqrt(a) * z;
  }
  return x;
}

at::Tensor PredictorCorrectorStep::step(const ScoreModel& model, const at::Tensor& x_in, double t, double t_next,
                                        int64_t k, bool last, const NoiseSource& noise) const {
  at::Tensor tt = at::full({x_in.size(0)}, t, x_in.options());
  at::Tensor ab = model.sde().alpha(at::tensor({t, t_next}, at::kDouble));
  double a = std::pow(ab[0].item<double>() / ab[1].item<double>(), 2);
  at::Tensor x = x_in;
  for (int64_t j = 0; j < n_; ++j) {
    at::Tensor s = model.score(x, tt);
    at::Tensor z = noise.normal_like(x, (k + 1) + NoiseSource::kSubStream * (j + 1));
    // Batch means of the norms, as in score_sde: a per-sample ||s|| near a saddle of log p
    // (||s|| ~ 0) would give that sample an unbounded step.
    at::Tensor z_norm = z.reshape({z.size(0), -1}).norm(2, 1).mean();
    at::Tensor s_norm = s.reshape({s.size(0), -1}).norm(2, 1).mean();
    at::Tensor step = 2 * a * (snr_ * z_norm / s_norm.clamp_min(1e-12)).pow(2);
    x = x + step * s + at::sqrt(2 * step) * z;
  }
  return predictor_->step(model, x, t, t_next, k, last, noise);
}

}  // namespace scorelab
