#include "solvers/dpm_singlestep.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include <ATen/ATen.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/grid_config.h"
#include "solvers/sigma_frame.h"

namespace scorelab {

namespace {
constexpr double kR1Order2 = 0.5, kR1Order3 = 1.0 / 3, kR2Order3 = 2.0 / 3;

// One single-step update in y from lambda to lambda + h, given eps at the start and a way to
// evaluate eps at an intermediate point (sigma~ = e^{-lambda}). `low`, when given, receives the
// embedded lower-order solution (order 1 for order 2; order 2 with r1 = 1/3 for order 3).
template <class Eps>
at::Tensor single_step(int order, const at::Tensor& y, const at::Tensor& eps, double lam, double h, const Eps& eps_at_stage,
                       at::Tensor* low = nullptr) {
  const double s_next = std::exp(-(lam + h)), em1 = std::expm1(h);
  at::Tensor first = y - (s_next * em1) * eps;
  if (order == 1) return first;
  const double r1 = order == 2 ? kR1Order2 : kR1Order3;
  const double s1 = std::exp(-(lam + r1 * h));
  at::Tensor u1 = y - (s1 * std::expm1(r1 * h)) * eps;
  at::Tensor e1 = eps_at_stage(0, u1);
  at::Tensor second = first - (s_next / (2 * r1) * em1) * (e1 - eps);
  if (order == 2) {
    if (low) *low = first;
    return second;
  }
  if (low) *low = second;
  const double r2 = kR2Order3, s2 = std::exp(-(lam + r2 * h)), em2 = std::expm1(r2 * h);
  at::Tensor u2 = y - (s2 * em2) * eps - (s2 * (r2 / r1) * (em2 / (r2 * h) - 1)) * (e1 - eps);
  at::Tensor e2 = eps_at_stage(1, u2);
  return first - (s_next / r2 * (em1 / h - 1)) * (e2 - eps);
}

std::vector<double> stage_fractions(int order) {
  if (order == 2) return {kR1Order2};
  if (order == 3) return {kR1Order3, kR2Order3};
  return {};
}
}  // namespace

void DPMSolverStep::prepare(const ScoreModel& model, Schedule& s) const {
  const int64_t K = s.steps();
  std::vector<double> want;
  for (int64_t k = 0; k < K; ++k) {
    const double lam = half_log_snr(s, k), h = half_log_snr(s, k + 1) - lam;
    for (double r : stage_fractions(order_)) want.push_back(std::exp(-(lam + r * h)));
  }
  TimesOf st = times_of_sigma_tilde(model.sde(), want, s.t.back());
  s.extra["stage_t"] = st.t;
  s.extra["stage_alpha"] = st.alpha;
}

at::Tensor DPMSolverStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  const Schedule& s = ctx.schedule;
  at::Tensor eps = model.eps(x, ctx.time(x));
  if (ctx.want_x0) ctx.x0 = (x - ctx.sigma() * eps) / ctx.alpha();
  const double lam = half_log_snr(s, ctx.k), h = half_log_snr(s, ctx.k + 1) - lam;
  const size_t base = static_cast<size_t>(ctx.k) * stage_fractions(order_).size();
  auto stage = [&](int j, const at::Tensor& u) {
    const double a = s.extra.at("stage_alpha")[base + j];
    return eps_at(model, a * u, s.extra.at("stage_t")[base + j]);
  };
  return ctx.alpha_next() * single_step(order_, x / ctx.alpha(), eps, lam, h, stage);
}

namespace {
struct AdaptiveState : RuleState {
  double h = 0;
  int64_t accepted = 0, rejected = 0;
};
}  // namespace

std::unique_ptr<RuleState> DPMSolverAdaptiveStep::state() const { return std::make_unique<AdaptiveState>(); }

at::Tensor DPMSolverAdaptiveStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  AdaptiveState& st = ctx.state_as<AdaptiveState>();
  const SDE& sde = model.sde();
  const Schedule& s = ctx.schedule;
  double lam = half_log_snr(s, ctx.k);
  const double lam_end = half_log_snr(s, ctx.k + 1), t_lo = s.t.back();
  if (st.h == 0) st.h = o_.h_init;
  double t_cur = ctx.t(), a_cur = ctx.alpha();
  at::Tensor y = x / a_cur, y_prev = y, eps;
  const std::vector<double> fr = stage_fractions(o_.order);
  for (int64_t n = 0; lam < lam_end - 1e-5; ++n) {
    if (n >= o_.max_steps) throw std::runtime_error("dpm_solver_adaptive: more than max_steps steps");
    const double h = std::min(st.h, lam_end - lam);
    if (!eps.defined()) {
      eps = eps_at(model, a_cur * y, t_cur);
      if (n == 0 && ctx.want_x0) ctx.x0 = y - std::exp(-lam) * eps;
    }
    std::vector<double> want;
    for (double r : fr) want.push_back(std::exp(-(lam + r * h)));
    want.push_back(std::exp(-(lam + h)));
    TimesOf tm = times_of_sigma_tilde(sde, want, t_lo);
    if (lam + h >= lam_end) tm.t.back() = ctx.t_next(), tm.alpha.back() = ctx.alpha_next();
    auto stage = [&](int j, const at::Tensor& u) { return eps_at(model, tm.alpha[j] * u, tm.t[j]); };
    at::Tensor low;
    at::Tensor high = single_step(o_.order, y, eps, lam, h, stage, &low);
    at::Tensor delta = at::clamp_min(o_.rtol * at::maximum(low.abs(), y_prev.abs()), o_.atol);
    const double err = ((low - high) / delta).pow(2).mean().sqrt().item<double>();
    const double factor = 1 + std::atan(std::pow(1.0 / (err + 1e-8), 1.0 / o_.order) - 1);
    if (factor >= o_.accept_safety) {
      y_prev = low;
      y = high;
      lam += h;
      t_cur = tm.t.back();
      a_cur = tm.alpha.back();
      eps = at::Tensor();
      ++st.accepted;
    } else {
      ++st.rejected;
    }
    st.h = h * factor;
  }
  st.stats["accepted_steps"] = static_cast<double>(st.accepted);
  st.stats["rejected_steps"] = static_cast<double>(st.rejected);
  return ctx.alpha_next() * y;
}

std::shared_ptr<Sampler> dpm_solver_sampler_from(const Config& c, const SDE& sde) {
  const int order = static_cast<int>(c.get_int("order", 3, 1, 3));
  GridSpec g = continuous_grid(c, sde, 10, "log_snr");
  return std::make_shared<Sampler>("dpm_solver", g.grid, std::make_shared<DPMSolverStep>(order), g.denoise);
}

std::shared_ptr<Sampler> dpm_solver_adaptive_sampler_from(const Config& c, const SDE& sde) {
  DPMAdaptiveOptions o;
  o.order = static_cast<int>(c.get_int("order", 3, 2, 3));
  o.rtol = c.get_positive("rtol", o.rtol);
  o.atol = c.get_positive("atol", o.atol);
  o.h_init = c.get_positive("h_init", o.h_init);
  o.accept_safety = c.get_double("accept_safety", o.accept_safety, 0.0, 1.0);
  const double eps = c.get_double("eps", 1e-3, 0.0, sde.T());
  if (!(eps > 0)) c.fail("eps", "must be > 0 (the solver steps in lambda = log(alpha / sigma), infinite at eps = 0)");
  const bool denoise = c.get_bool("denoise", false);
  return std::make_shared<Sampler>("dpm_solver_adaptive", at::tensor({sde.T(), eps}, at::kDouble),
                                   std::make_shared<DPMSolverAdaptiveStep>(o), denoise);
}

}  // namespace scorelab
