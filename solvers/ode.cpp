#include "solvers/ode.h"

#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/grid_config.h"

namespace scorelab {

at::Tensor pf_ode_drift(const ScoreModel& model, const at::Tensor& x, double t) {
  at::Tensor tt = at::full({x.size(0)}, t, x.options());
  return reverse_drift(model.sde(), x, tt, model.score(x, tt), /*probability_flow=*/true);
}

at::Tensor ODEStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  const double t = ctx.t(), t_next = ctx.t_next(), h = t_next - t;
  at::Tensor tt = ctx.time(x);
  at::Tensor s = model.score(x, tt);
  ctx.record_score(x, s);
  at::Tensor k1 = reverse_drift(model.sde(), x, tt, s, /*probability_flow=*/true);
  if (m_ == Method::euler) return x + h * k1;
  if (m_ == Method::heun) {
    at::Tensor k2 = pf_ode_drift(model, x + h * k1, t_next);
    return x + (0.5 * h) * (k1 + k2);
  }
  at::Tensor k2 = pf_ode_drift(model, x + (0.5 * h) * k1, t + 0.5 * h);
  at::Tensor k3 = pf_ode_drift(model, x + (0.5 * h) * k2, t + 0.5 * h);
  at::Tensor k4 = pf_ode_drift(model, x + h * k3, t_next);
  return x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4);
}

at::Tensor rk45(const std::function<at::Tensor(const at::Tensor&, double)>& f, at::Tensor y, double t0, double t1,
                const RK45Options& o, RK45Stats* stats) {
  // Dormand–Prince 5(4) tableau.
  static const double c[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
  static const double a[7][6] = {{0},
                                 {1.0 / 5},
                                 {3.0 / 40, 9.0 / 40},
                                 {44.0 / 45, -56.0 / 15, 32.0 / 9},
                                 {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
                                 {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
                                 {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
  static const double e[7] = {71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -1.0 / 40};
  const double dir = t1 > t0 ? 1.0 : -1.0;
  double t = t0, h = dir * (o.h0 > 0 ? o.h0 : std::abs(t1 - t0) / 100);
  if (stats && stats->h != 0) h = dir * std::abs(stats->h);
  at::Tensor k[7];
  k[0] = f(y, t);
  RK45Stats local;
  RK45Stats& st = stats ? *stats : local;
  for (int64_t n = 0; dir * (t1 - t) > 1e-12 * std::abs(t1 - t0); ++n) {
    if (n >= o.max_steps) throw std::runtime_error("rk45: more than max_steps steps");
    if (dir * (t + h - t1) > 0) h = t1 - t;
    for (int i = 1; i < 7; ++i) {
      at::Tensor yi = y;
      for (int j = 0; j < i; ++j)
        if (a[i][j] != 0) yi = yi + (h * a[i][j]) * k[j];
      if (i == 6) {
        k[6] = f(yi, t + h);  // y_new = yi (FSAL)
        at::Tensor err = at::zeros_like(y);
        for (int j = 0; j < 7; ++j)
          if (e[j] != 0) err = err + (h * e[j]) * k[j];
        at::Tensor scale = o.atol + o.rtol * at::maximum(y.abs(), yi.abs());
        double norm = (err / scale).pow(2).mean().sqrt().item<double>();
        if (norm <= 1.0) {
          t += h;
          y = yi;
          k[0] = k[6];
          ++st.accepted;
        } else {
          ++st.rejected;
        }
        double factor = norm == 0 ? 5.0 : std::min(5.0, std::max(0.2, 0.9 * std::pow(norm, -0.2)));
        if (norm > 1.0) factor = std::min(1.0, factor);
        h *= factor;
        st.h = h;
      } else {
        k[i] = f(yi, t + c[i] * h);
      }
    }
  }
  return y;
}

namespace {
struct RK45State : RuleState {
  RK45Stats rk;
};
}  // namespace

std::unique_ptr<RuleState> RK45Step::state() const { return std::make_unique<RK45State>(); }

at::Tensor RK45Step::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  RK45State& st = ctx.state_as<RK45State>();
  at::Tensor out = rk45([&](const at::Tensor& y, double t) { return pf_ode_drift(model, y, t); }, x, ctx.t(),
                        ctx.t_next(), o_, &st.rk);
  st.stats["accepted_steps"] = static_cast<double>(st.rk.accepted);
  st.stats["rejected_steps"] = static_cast<double>(st.rk.rejected);
  if (ctx.want_x0) ctx.x0 = model.x0(out, ctx.time_next(out));  // one extra NFE, only for observers
  return out;
}

std::shared_ptr<Sampler> ode_sampler_from(const Config& c, const SDE& sde) {
  std::string method = c.get_choice("method", "rk45", {"euler", "heun", "rk4", "rk45"});
  if (method == "rk45") {
    RK45Options o;
    o.rtol = c.get_positive("rtol", 1e-5);
    o.atol = c.get_positive("atol", 1e-5);
    double eps = c.get_double("eps", 1e-3, 0.0, sde.T());
    bool denoise = c.get_bool("denoise", false);
    return std::make_shared<Sampler>("ode", at::tensor({sde.T(), eps}, at::kDouble), std::make_shared<RK45Step>(o),
                                     denoise);
  }
  GridSpec g = continuous_grid(c, sde, method == "euler" ? 500 : 100, "uniform");
  auto m = method == "euler" ? ODEStep::Method::euler : method == "heun" ? ODEStep::Method::heun : ODEStep::Method::rk4;
  return std::make_shared<Sampler>("ode", g.grid, std::make_shared<ODEStep>(m), g.denoise);
}

}  // namespace scorelab
