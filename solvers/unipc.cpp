#include "solvers/unipc.h"

#include <cmath>
#include <deque>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "core/config.h"
#include "networks/score_model.h"
#include "solvers/grid_config.h"

namespace scorelab {

namespace {

// Solves the small dense system A x = b (Gaussian elimination with partial pivoting).
std::vector<double> solve(std::vector<std::vector<double>> A, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(A[r][c]) > std::abs(A[p][c])) p = r;
    std::swap(A[c], A[p]);
    std::swap(b[c], b[p]);
    for (size_t r = c + 1; r < n; ++r) {
      const double f = A[r][c] / A[c][c];
      for (size_t k = c; k < n; ++k) A[r][k] -= f * A[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= A[i][k] * x[k];
    x[i] = s / A[i][i];
  }
  return x;
}

struct Past {
  at::Tensor m;  // x0 estimate
  double lam;
};

struct UniPCState : RuleState {
  std::deque<Past> hist;  // most recent last
  at::Tensor last_sample;
  double last_alpha = 0, last_sigma = 0;
  int this_order = 1, lower_order_nums = 0;
};

// The shared part of UniP and UniC: from x at (alpha_s, sigma_s, lambda_s) with estimate m0 to
// lambda_t: the first-order step, B(h) and the coefficients rho for `order` terms, where
// hist[hist.size() - 1 - k] (k >= 1) are the earlier estimates (the D_k), plus one more term with
// r = 1 when `with_new` (the corrector). Returns x_t_ - alpha_t B(h) sum_k rho_k D_k.
at::Tensor unified_update(const at::Tensor& x, double sigma_s, const Past& m0, const std::deque<Past>& hist,
                          size_t newest, int order, double alpha_t, double sigma_t, double lam_t, bool bh2,
                          const at::Tensor* model_t) {
  const double h = lam_t - m0.lam, hh = -h;
  std::vector<double> rks;
  std::vector<at::Tensor> D1;
  for (int i = 1; i < order; ++i) {
    const Past& mi = hist[newest - i];
    const double rk = (mi.lam - m0.lam) / h;
    rks.push_back(rk);
    D1.push_back((mi.m - m0.m) / rk);
  }
  rks.push_back(1.0);
  const double h_phi_1 = std::expm1(hh), B_h = bh2 ? std::expm1(hh) : hh;
  double h_phi_k = h_phi_1 / hh - 1, factorial = 1;
  std::vector<std::vector<double>> R;
  std::vector<double> b;
  for (int i = 1; i <= order; ++i) {
    std::vector<double> row;
    for (double r : rks) row.push_back(std::pow(r, i - 1));
    R.push_back(row);
    b.push_back(h_phi_k * factorial / B_h);
    factorial *= i + 1;
    h_phi_k = h_phi_k / hh - 1 / factorial;
  }
  at::Tensor out = (sigma_t / sigma_s) * x - (alpha_t * h_phi_1) * m0.m;
  std::vector<double> rho;
  if (model_t) {  // UniC: all `order` terms, the last one the new evaluation
    rho = order == 1 ? std::vector<double>{0.5} : solve(R, b);
  } else if (order >= 2) {  // UniP: the order - 1 earlier terms
    if (order == 2) {
      rho = {0.5};
    } else {
      std::vector<std::vector<double>> Rs(order - 1);
      for (int i = 0; i < order - 1; ++i) Rs[i].assign(R[i].begin(), R[i].end() - 1);
      rho = solve(Rs, std::vector<double>(b.begin(), b.end() - 1));
    }
  }
  at::Tensor res;
  for (size_t k = 0; k < D1.size(); ++k) res = res.defined() ? res + rho[k] * D1[k] : rho[k] * D1[k];
  if (model_t) {
    at::Tensor last = rho.back() * (*model_t - m0.m);
    res = res.defined() ? res + last : last;
  }
  if (res.defined()) out = out - (alpha_t * B_h) * res;
  return out;
}

}  // namespace

std::unique_ptr<RuleState> UniPCStep::state() const { return std::make_unique<UniPCState>(); }

at::Tensor UniPCStep::step(const ScoreModel& model, const at::Tensor& x_in, StepContext& ctx) const {
  UniPCState& st = ctx.state_as<UniPCState>();
  const Schedule& s = ctx.schedule;
  const double lam = 0.5 * s.log_snr[ctx.k];
  at::Tensor m = model.x0(x_in, ctx.time(x_in));
  ctx.x0 = m;
  at::Tensor x = x_in;
  if (o_.corrector && st.last_sample.defined())  // UniC on x_i with the evaluation at the predicted x_i
    x = unified_update(st.last_sample, st.last_sigma, st.hist.back(), st.hist, st.hist.size() - 1, st.this_order,
                       ctx.alpha(), ctx.sigma(), lam, o_.bh2, &m);
  st.hist.push_back({m, lam});
  while (static_cast<int>(st.hist.size()) > o_.order + 1) st.hist.pop_front();
  const int64_t remaining = s.steps() - ctx.k;
  int order = o_.lower_order_final ? static_cast<int>(std::min<int64_t>(o_.order, remaining)) : o_.order;
  st.this_order = std::min(order, st.lower_order_nums + 1);
  st.last_sample = x;
  st.last_alpha = ctx.alpha();
  st.last_sigma = ctx.sigma();
  if (st.lower_order_nums < o_.order) ++st.lower_order_nums;
  return unified_update(x, ctx.sigma(), st.hist.back(), st.hist, st.hist.size() - 1, st.this_order, ctx.alpha_next(),
                        ctx.sigma_next(), 0.5 * s.log_snr[ctx.k + 1], o_.bh2, nullptr);
}

std::shared_ptr<Sampler> unipc_sampler_from(const Config& c, const SDE& sde) {
  UniPCOptions o;
  const std::string type = c.get_string("type", "unipc");
  if (type == "uni_pc" || type == "uni_pc_bh2")
    o.bh2 = fixed_by_alias(c, "variant", type == "uni_pc_bh2" ? "bh2" : "bh1", "unipc") == "bh2";
  else
    o.bh2 = c.get_choice("variant", "bh2", {"bh1", "bh2"}) == "bh2";
  o.order = static_cast<int>(c.get_int("order", 2, 1, 3));
  o.lower_order_final = c.get_bool("lower_order_final", true);
  o.corrector = c.get_bool("corrector", true);
  GridSpec g = continuous_grid(c, sde, 10, "log_snr");
  return std::make_shared<Sampler>("unipc", g.grid, std::make_shared<UniPCStep>(o), g.denoise);
}

}  // namespace scorelab
