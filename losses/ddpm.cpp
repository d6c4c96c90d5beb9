#include "losses/ddpm.h"

#include <cmath>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/tensor_util.h"
#include "networks/score_model.h"
#include "sde/ddpm.h"

namespace scorelab {

DDPMLossOptions DDPMLossOptions::from(const Config& cfg) {
  DDPMLossOptions o;
  o.objective = cfg.get_choice("objective", o.objective, {"simple", "vlb", "hybrid"});
  o.variance = cfg.get_choice("variance", o.variance, {"beta", "beta_tilde"});
  o.decoder = cfg.get_choice("decoder", o.decoder, {"discretized", "gaussian"});
  if (o.objective == "hybrid") o.lambda_vlb = cfg.get_double("lambda_vlb", o.lambda_vlb, 0.0);
  return o;
}

DDPMLoss::DDPMLoss(DDPMLossOptions o, const LossContext& ctx) : o_(std::move(o)), chain_(ctx.sde->ddpm_chain()), sde_(ctx.sde) {
  TORCH_CHECK(chain_, "ddpm losses need a discrete chain");
}

at::Tensor DDPMLoss::reverse_variance(const at::Tensor& i, const at::Tensor& like) const {
  if (o_.variance == "beta") return chain_->at_step(chain_->betas, i, like);
  at::Tensor i2 = at::clamp_min(i, 2);  // beta~_1 = 0: use beta~_2 at step 1
  return chain_->posterior_variance(i2, like);
}

namespace {
at::Tensor std_normal_cdf(const at::Tensor& x) { return 0.5 * (1.0 + at::erf(x / std::sqrt(2.0))); }
}  // namespace

at::Tensor discretized_gaussian_log_likelihood(const at::Tensor& x0, const at::Tensor& mean, const at::Tensor& log_std) {
  at::Tensor centered = x0 - mean;
  at::Tensor inv_std = at::exp(-log_std);
  at::Tensor cdf_plus = std_normal_cdf(inv_std * (centered + 1.0 / 255));
  at::Tensor cdf_minus = std_normal_cdf(inv_std * (centered - 1.0 / 255));
  at::Tensor log_cdf_plus = at::log(cdf_plus.clamp_min(1e-12));
  at::Tensor log_one_minus_cdf_minus = at::log((1.0 - cdf_minus).clamp_min(1e-12));
  at::Tensor log_mid = at::log((cdf_plus - cdf_minus).clamp_min(1e-12));
  // The edge bins extend to -inf and +inf (DDPM eq. 13).
  at::Tensor lp = at::where(x0 < -0.999, log_cdf_plus, at::where(x0 > 0.999, log_one_minus_cdf_minus, log_mid));
  return sum_except_batch(lp);
}

VLBTerms DDPMLoss::vlb_terms(const ScoreModel& model, const at::Tensor& x0, const at::Tensor& i, const at::Tensor& z,
                             at::Tensor* pred_out, at::Tensor* xt_out) const {
  const int64_t nd = x0.dim();
  at::Tensor t = i.to(x0.scalar_type()) / static_cast<double>(chain_->N);
  at::Tensor ab = append_dims(chain_->at_step(chain_->alpha_bars, i, x0), nd);
  at::Tensor xt = at::sqrt(ab) * x0 + at::sqrt(1.0 - ab) * z;
  at::Tensor pred = model.prediction(xt, t);
  at::Tensor mu_theta = model.convert(pred, model.kind(), Parameterization::mu, xt, t);
  at::Tensor c0 = append_dims(chain_->posterior_c0(i, x0), nd), ct = append_dims(chain_->posterior_ct(i, x0), nd);
  at::Tensor mu_q = c0 * x0 + ct * xt;
  at::Tensor var_p = append_dims(reverse_variance(i, x0), nd);
  at::Tensor var_q = append_dims(chain_->posterior_variance(at::clamp_min(i, 2), x0), nd);
  // KL(N(mu_q, var_q) || N(mu_theta, var_p)) per dimension, summed.
  at::Tensor kl = 0.5 * sum_except_batch(at::log(var_p / var_q) + var_q / var_p - 1.0 + (mu_q - mu_theta).pow(2) / var_p);
  // L_0 = -log p(x0 | x1).
  at::Tensor nll0;
  at::Tensor log_std = 0.5 * at::log(var_p);
  if (o_.decoder == "discretized") {
    nll0 = -discretized_gaussian_log_likelihood(x0, mu_theta, log_std);
  } else {
    nll0 = 0.5 * sum_except_batch((x0 - mu_theta).pow(2) / var_p + at::log(2 * M_PI * var_p));
  }
  at::Tensor term = at::where(i == 1, nll0, kl);
  // L_N = KL(q(x_N | x0) || N(0, I)).
  double abN = chain_->alpha_bars[-1].item<double>();
  at::Tensor prior = 0.5 * sum_except_batch(abN * x0.pow(2) + (1.0 - abN) - 1.0 - std::log(1.0 - abN));
  if (pred_out) *pred_out = pred;
  if (xt_out) *xt_out = xt;
  return {prior, term};
}

LossResult DDPMLoss::operator()(const ScoreModel& model, const at::Tensor& x0_all, at::Generator& gen) const {
  int64_t B = x0_all.size(0);
  at::Tensor i = at::randint(1, chain_->N + 1, {B}, gen, at::TensorOptions().dtype(at::kLong).device(x0_all.device()));
  at::Tensor z = mine(at::randn(x0_all.sizes(), gen, x0_all.options()));
  i = mine(i);
  const at::Tensor x0 = mine(x0_all);  // this process's rows (data-parallel training)
  at::Tensor pred, xt;
  VLBTerms v = vlb_terms(model, x0, i, z, &pred, &xt);
  at::Tensor vlb = v.prior + static_cast<double>(chain_->N) * v.term;  // unbiased for the whole bound
  // L_simple against the target of the model's own parameterization.
  at::Tensor t = i.to(x0.scalar_type()) / static_cast<double>(chain_->N);
  at::Tensor target = model.convert(z, Parameterization::eps, model.kind(), xt, t);
  if (model.kind() == Parameterization::x0) target = x0;
  at::Tensor simple = sum_except_batch((pred - target).pow(2));
  LossResult r;
  const at::Tensor simple_mean = batch_mean(simple, B), vlb_mean = batch_mean(vlb, B);
  if (o_.objective == "simple") r.loss = simple_mean;
  else if (o_.objective == "vlb") r.loss = vlb_mean;
  else r.loss = simple_mean + o_.lambda_vlb * vlb_mean;
  double dims = static_cast<double>(x0[0].numel());
  r.parts["simple"] = simple_mean.detach();
  r.parts["vlb"] = vlb_mean.detach();
  r.parts["vlb_bpd"] = bits_per_dim(-vlb_mean, dims).detach();
  r.per_example = simple.detach();
  r.t_frac = (i - 1).to(x0.scalar_type()) / static_cast<double>(chain_->N);
  return r;
}

at::Tensor DDPMLoss::full_vlb(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const {
  int64_t B = x0.size(0);
  at::Tensor total;
  for (int64_t step = 1; step <= chain_->N; ++step) {
    at::Tensor i = at::full({B}, step, at::TensorOptions().dtype(at::kLong).device(x0.device()));
    at::Tensor z = at::randn(x0.sizes(), gen, x0.options());
    VLBTerms v = vlb_terms(model, x0, i, z);
    total = total.defined() ? total + v.term : v.prior + v.term;
  }
  return total;
}

}  // namespace scorelab
