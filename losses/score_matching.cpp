#include "losses/score_matching.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "core/config.h"
#include "core/tensor_util.h"
#include "networks/score_model.h"
#include "sde/sde.h"

namespace scorelab {

ScoreMatchingOptions ScoreMatchingLoss::options_from(const Config& cfg, bool sliced, const LossContext& ctx) {
  ScoreMatchingOptions o;
  o.perturb = cfg.get_bool("perturb", o.perturb);
  o.eps = cfg.get_double("eps", o.eps, 0.0, 0.5);
  if (sliced) {
    o.projection = cfg.get_choice("projection", o.projection, {"gaussian", "rademacher"});
    o.projections = cfg.get_int("projections", o.projections, 1, 1024);
    o.variance_reduced = cfg.get_bool("variance_reduced", o.variance_reduced);
  } else {
    o.max_dim = cfg.get_int("max_dim", o.max_dim, 1);
    int64_t d = 1;
    for (auto s : ctx.sample_shape) d *= s;
    if (d > o.max_dim)
      cfg.fail("type", "implicit score matching needs " + std::to_string(d) +
                           " backward passes per step for the exact trace (data dimension " + std::to_string(d) +
                           " > loss.max_dim = " + std::to_string(o.max_dim) +
                           "); use type: ssm (sliced) or raise loss.max_dim");
  }
  return o;
}

ScoreMatchingLoss::ScoreMatchingLoss(bool sliced, ScoreMatchingOptions o, const LossContext&) : sliced_(sliced), o_(o) {}

std::pair<at::Tensor, at::Tensor> ScoreMatchingLoss::terms(const ScoreModel& model, const at::Tensor& x_in,
                                                           const at::Tensor& t, at::Generator& gen, int64_t B) const {
  at::AutoGradMode enable(true);
  at::Tensor x = x_in.detach().requires_grad_(true);
  at::Tensor s = model.score(x, t);
  at::Tensor flat = s.reshape({s.size(0), -1});
  const int64_t D = flat.size(1);
  at::Tensor trace = at::zeros({x.size(0)}, x.options());
  at::Tensor norm;
  if (!sliced_) {
    // tr(grad_x s) = sum_d d s_d / d x_d, one backward pass per dimension.
    for (int64_t d = 0; d < D; ++d) {
      at::Tensor g = torch::autograd::grad({flat.select(1, d).sum()}, {x}, {}, true, true)[0];
      trace = trace + g.reshape({x.size(0), -1}).select(1, d);
    }
    norm = 0.5 * flat.pow(2).sum(1);
  } else {
    at::Tensor proj_norm = at::zeros_like(trace);
    for (int64_t k = 0; k < o_.projections; ++k) {
      std::vector<int64_t> whole = s.sizes().vec();  // drawn for the whole batch (data-parallel: its rows)
      if (B > 0) whole[0] = B;
      at::Tensor v = mine(at::randn(whole, gen, s.options()));
      if (o_.projection == "rademacher") v = at::sign(v);
      at::Tensor vs = sum_except_batch(v * s);
      at::Tensor g = torch::autograd::grad({vs.sum()}, {x}, {}, true, true)[0];
      trace = trace + sum_except_batch(v * g);
      proj_norm = proj_norm + 0.5 * vs.pow(2);
    }
    trace = trace / static_cast<double>(o_.projections);
    norm = o_.variance_reduced ? 0.5 * flat.pow(2).sum(1) : proj_norm / static_cast<double>(o_.projections);
  }
  return {trace, norm};
}

LossResult ScoreMatchingLoss::operator()(const ScoreModel& model, const at::Tensor& x0_all, at::Generator& gen) const {
  const SDE& sde = model.sde();
  int64_t B = x0_all.size(0);
  const at::Tensor x0 = mine(x0_all);  // this process's rows (data-parallel training)
  at::Tensor t, x, w;
  if (o_.perturb) {
    t = o_.eps + (sde.T() - o_.eps) * at::rand({B}, gen, x0.options());
    at::Tensor z = mine(at::randn(x0_all.sizes(), gen, x0.options()));
    t = mine(t);
    at::Tensor sigma = sde.sigma(t);
    x = append_dims(sde.alpha(t), x0.dim()) * x0 + append_dims(sigma, x0.dim()) * z;
    w = sigma.pow(2);
  } else {
    t = at::full({x0.size(0)}, o_.eps, x0.options());
    x = x0;
    w = at::ones({x0.size(0)}, x0.options());
  }
  auto [trace, norm] = terms(model, x, t, gen, B);
  LossResult r;
  r.loss = batch_mean(w * (trace + norm), B);
  r.parts[name()] = r.loss.detach();
  r.parts["trace_term"] = batch_mean(w * trace, B).detach();
  r.parts["norm_term"] = batch_mean(w * norm, B).detach();
  return r;
}

}  // namespace scorelab
