#include "solvers/adams.h"

#include <cmath>
#include <deque>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/grid_config.h"

namespace scorelab {

namespace {

constexpr int kGaussNodes = 64;

// Gauss–Legendre nodes and weights on [-1, 1] (Newton's method on P_n from Chebyshev guesses).
struct Quadrature {
  std::vector<double> x, w;
};
const Quadrature& gauss_legendre() {
  static const Quadrature q = [] {
    const int n = kGaussNodes;
    Quadrature r;
    r.x.resize(n);
    r.w.resize(n);
    for (int i = 0; i < n; ++i) {
      double z = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 0;
      for (int it = 0; it < 100; ++it) {
        double p0 = 1, p1 = z;  // P_0, P_1, then the recurrence up to P_n
        for (int k = 2; k <= n; ++k) {
          const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        dp = n * (z * p1 - p0) / (z * z - 1);
        const double dz = p1 / dp;
        z -= dz;
        if (std::abs(dz) < 1e-16) break;
      }
      r.x[i] = z;
      r.w[i] = 2 / ((1 - z * z) * dp * dp);
    }
    return r;
  }();
  return q;
}

// L_j(u) and L_j'(u) for the Lagrange basis on `nodes`.
double lagrange(const std::vector<double>& nodes, size_t j, double u) {
  double v = 1;
  for (size_t m = 0; m < nodes.size(); ++m)
    if (m != j) v *= (u - nodes[m]) / (nodes[j] - nodes[m]);
  return v;
}
double lagrange_derivative(const std::vector<double>& nodes, size_t j, double u) {
  double sum = 0;
  for (size_t l = 0; l < nodes.size(); ++l) {
    if (l == j) continue;
    double v = 1 / (nodes[j] - nodes[l]);
    for (size_t m = 0; m < nodes.size(); ++m)
      if (m != j && m != l) v *= (u - nodes[m]) / (nodes[j] - nodes[m]);
    sum += v;
  }
  return sum;
}

struct AdamsState : RuleState {
  std::deque<at::Tensor> eps;  // most recent first
};

}  // namespace

std::unique_ptr<RuleState> AdamsStep::state() const { return std::make_unique<AdamsState>(); }

void AdamsStep::prepare(const ScoreModel& model, Schedule& s) const {
  const int64_t K = s.steps();
  std::vector<double> sig(K + 1), u(K + 1);
  for (int64_t k = 0; k <= K; ++k) {
    sig[k] = s.alpha[k] > 0 ? s.sigma[k] / s.alpha[k] : 0.0;
    u[k] = u_ == Variable::time ? s.t[k] : sig[k];
  }
  const Quadrature& q = gauss_legendre();
  // sigma~(t) at every step's quadrature nodes, in one call (only for u = t).
  std::vector<double> sig_nodes;
  if (u_ == Variable::time) {
    std::vector<double> tn;
    for (int64_t k = 0; k < K; ++k)
      for (double z : q.x) tn.push_back(0.5 * (s.t[k] + s.t[k + 1]) + 0.5 * (s.t[k + 1] - s.t[k]) * z);
    at::Tensor t = at::tensor(tn, at::kDouble);
    at::Tensor r = (model.sde().sigma(t) / model.sde().alpha(t)).contiguous();
    sig_nodes.assign(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
  }
  std::vector<std::vector<double>> c(order_, std::vector<double>(K, 0.0));
  for (int64_t k = 0; k < K; ++k) {
    const int r = static_cast<int>(std::min<int64_t>(k + 1, order_));
    std::vector<double> nodes;
    for (int j = 0; j < r; ++j) nodes.push_back(u[k - j]);
    const double a = u[k], b = u[k + 1];
    for (int j = 0; j < r; ++j) {
      // by parts: sigma~ L_j |_a^b - int_a^b sigma~(u) L_j'(u) du
      double integral = 0;
      for (int n = 0; n < kGaussNodes; ++n) {
        const double un = 0.5 * (a + b) + 0.5 * (b - a) * q.x[n];
        const double sn = u_ == Variable::time ? sig_nodes[k * kGaussNodes + n] : un;
        integral += q.w[n] * sn * lagrange_derivative(nodes, j, un);
      }
      integral *= 0.5 * (b - a);
      c[j][k] = sig[k + 1] * lagrange(nodes, j, b) - sig[k] * lagrange(nodes, j, a) - integral;
    }
  }
  for (int j = 0; j < order_; ++j) s.extra["adams_c" + std::to_string(j)] = c[j];
}

at::Tensor AdamsStep::step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const {
  AdamsState& st = ctx.state_as<AdamsState>();
  at::Tensor eps = model.eps(x, ctx.time(x));
  if (ctx.want_x0) ctx.x0 = (x - ctx.sigma() * eps) / ctx.alpha();
  st.eps.push_front(eps);
  if (static_cast<int>(st.eps.size()) > order_) st.eps.pop_back();
  at::Tensor y = x / ctx.alpha();
  for (size_t j = 0; j < st.eps.size(); ++j) y = y + ctx.schedule.extra.at("adams_c" + std::to_string(j))[ctx.k] * st.eps[j];
  return ctx.alpha_next() * y;
}

std::shared_ptr<Sampler> lms_sampler_from(const Config& c, const SDE& sde) {
  const int order = static_cast<int>(c.get_int("order", 4, 1, 4));
  GridSpec g = continuous_grid(c, sde, 50, "karras");
  return std::make_shared<Sampler>("lms", g.grid, std::make_shared<AdamsStep>(AdamsStep::Variable::sigma_tilde, order),
                                   g.denoise);
}

std::shared_ptr<Sampler> deis_sampler_from(const Config& c, const SDE& sde) {
  const int order = static_cast<int>(c.get_int("order", 3, 1, 4));
  GridSpec g = continuous_grid(c, sde, 20, "quadratic");
  return std::make_shared<Sampler>("deis", g.grid, std::make_shared<AdamsStep>(AdamsStep::Variable::time, order),
                                   g.denoise);
}

}  // namespace scorelab
