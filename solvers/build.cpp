#include "solvers/build.h"

#include <cmath>
#include <sstream>

#include <ATen/ATen.h>

#include "core/config.h"
#include "sde/ddpm.h"
#include "sde/sde.h"
#include "solvers/dpm_solver.h"
#include "solvers/edm.h"
#include "solvers/euler_maruyama.h"
#include "solvers/langevin.h"
#include "solvers/ode.h"
#include "solvers/steps.h"
#include "solvers/time_grid.h"

namespace scorelab {
namespace {

using Settings = std::map<std::string, std::string>;

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

struct GridSpec {
  at::Tensor grid;
  bool denoise;
  Settings settings;
};

// steps, grid, eps, rho, denoise: shared by every grid sampler on a continuous time grid.
GridSpec continuous_grid(const Config& c, const SDE& sde, const std::string& type, int64_t default_steps,
                         const std::string& default_grid) {
  GridSpec g;
  int64_t steps = c.get_int("steps", default_steps, 1, 1000000);
  std::string kind = c.get_choice("grid", default_grid, {"uniform", "quadratic", "log_snr", "karras"});
  double eps = c.get_double("eps", 1e-3, 0.0, sde.T());
  if (!(eps < sde.T())) c.fail("eps", "must be < T = " + num(sde.T()));
  if ((kind == "log_snr" || kind == "karras") && !(eps > 0)) c.fail("eps", "must be > 0 for a " + kind + " grid");
  double rho = kind == "karras" ? c.get_positive("rho", 7.0) : 7.0;
  g.denoise = c.get_bool("denoise", false);
  g.grid = make_time_grid(kind, sde, steps, eps, rho);
  g.settings = {{"type", type}, {"steps", std::to_string(steps)}, {"grid", kind},
                {"eps", num(eps)},  {"denoise", g.denoise ? "true" : "false"}};
  if (kind == "karras") g.settings["rho"] = num(rho);
  return g;
}

// DDPM chain steps: `steps` of the N, spaced uniformly or quadratically (DDIM sec. 5 / app. D.2),
// as times i/N, then t = 0 where the last step returns the Tweedie estimate x0_hat.
GridSpec chain_grid(const Config& c, const DDPMChain& chain, const std::string& type, int64_t default_steps) {
  GridSpec g;
  int64_t steps = c.get_int("steps", std::min(default_steps, chain.N), 1, chain.N);
  std::string sub = c.get_choice("subsequence", "uniform", {"uniform", "quadratic"});
  std::vector<double> idx;
  for (int64_t k = 0; k < steps; ++k) {
    double u = static_cast<double>(k) / steps;  // 0-based DDIM sequence, step i = seq + 1
    double seq = sub == "uniform" ? std::floor(u * chain.N) : std::floor(std::pow(u * std::sqrt(0.8 * chain.N), 2));
    idx.push_back(seq + 1);
  }
  std::vector<double> times;
  for (auto it = idx.rbegin(); it != idx.rend(); ++it) times.push_back(*it / chain.N);
  times.push_back(0.0);
  g.grid = at::tensor(times, at::kDouble);
  g.denoise = false;
  g.settings = {{"type", type}, {"steps", std::to_string(steps)}, {"grid", "ddpm_chain_" + sub},
                {"N", std::to_string(chain.N)}};
  return g;
}

std::shared_ptr<Sampler> grid_sampler(GridSpec g, std::shared_ptr<const StepRule> rule) {
  std::string name = g.settings["type"];
  return std::make_shared<GridSampler>(name, g.grid, std::move(rule), g.denoise, g.settings);
}

std::shared_ptr<const StepRule> predictor_rule(const std::string& name, const Config& c) {
  if (name == "euler_maruyama") return std::make_shared<EulerMaruyamaStep>();
  if (name == "reverse_diffusion") return std::make_shared<ReverseDiffusionStep>();
  if (name == "ancestral")
    return std::make_shared<AncestralStep>(c.get_choice("variance", "beta", {"beta", "beta_tilde"}) == "beta_tilde");
  return std::make_shared<IdentityStep>();
}

}  // namespace

void register_samplers(Registry<Sampler, const SDE&>& r) {
  r.add("euler_maruyama", [](const Config& c, const SDE& sde) {
    return grid_sampler(continuous_grid(c, sde, "euler_maruyama", 500, "uniform"), std::make_shared<EulerMaruyamaStep>());
  });
  r.add("reverse_diffusion", [](const Config& c, const SDE& sde) {
    return grid_sampler(continuous_grid(c, sde, "reverse_diffusion", 500, "uniform"),
                        std::make_shared<ReverseDiffusionStep>());
  });
  r.add("ancestral", [](const Config& c, const SDE& sde) {
    std::string var = c.get_choice("variance", "beta", {"beta", "beta_tilde"});
    GridSpec g = sde.ddpm_chain() ? chain_grid(c, *sde.ddpm_chain(), "ancestral", sde.ddpm_chain()->N)
                                  : continuous_grid(c, sde, "ancestral", 1000, "uniform");
    g.settings["variance"] = var;
    return grid_sampler(g, std::make_shared<AncestralStep>(var == "beta_tilde"));
  });
  r.add("ddim", [](const Config& c, const SDE& sde) {
    if (!sde.ddpm_chain())
      c.fail("type", "ddim takes its time subsequence from a discrete DDPM chain (sde.type: ddpm); sde '" +
                         sde.name() + "' has none. For continuous SDEs use ode, dpm_solver_2m or edm");
    double eta = c.get_double("eta", 0.0, 0.0, 1.0);
    GridSpec g = chain_grid(c, *sde.ddpm_chain(), "ddim", 50);
    g.settings["eta"] = num(eta);
    return grid_sampler(g, std::make_shared<DDIMStep>(eta));
  });
  r.add("annealed_langevin", [](const Config& c, const SDE& sde) -> std::shared_ptr<Sampler> {
    const double eps = c.get_double("eps", 1e-3, 0.0, sde.T());
    double s_lo = sde.sigma(at::full({1}, eps, at::kDouble)).item<double>();
    double s_hi = sde.sigma(at::full({1}, sde.T(), at::kDouble)).item<double>();
    int64_t L = c.get_int("levels", 10, 1, 100000);
    double smin = c.get_double("sigma_min", s_lo, s_lo * (1 - 1e-9), s_hi);
    double smax = c.get_double("sigma_max", s_hi, smin, s_hi * (1 + 1e-9));
    double lr = c.get_positive("step_lr", 2e-5);
    int64_t n = c.get_int("steps_per_level", 100, 1, 1000000);
    bool denoise = c.get_bool("denoise", false);
    std::vector<double> ts;
    for (int64_t l = 0; l < L; ++l) {
      double s = L == 1 ? smin : smax * std::pow(smin / smax, static_cast<double>(l) / (L - 1));
      ts.push_back(time_of_sigma(sde, s, eps, sde.T()));
    }
    ts.push_back(ts.back());
    Settings st{{"type", "annealed_langevin"}, {"levels", std::to_string(L)}, {"sigma_min", num(smin)},
                {"sigma_max", num(smax)}, {"step_lr", num(lr)}, {"steps_per_level", std::to_string(n)},
                {"denoise", denoise ? "true" : "false"}};
    return std::make_shared<GridSampler>("annealed_langevin", at::tensor(ts, at::kDouble),
                                         std::make_shared<AnnealedLangevinStep>(lr, smin, n), denoise, st);
  });
  r.add("pc", [](const Config& c, const SDE& sde) {
    std::string pred = c.get_choice("predictor", "reverse_diffusion", {"euler_maruyama", "reverse_diffusion", "ancestral", "none"});
    int64_t n = c.get_int("corrector_steps", 1, 0, 1000);
    double snr = c.get_positive("snr", 0.16);
    GridSpec g = continuous_grid(c, sde, "pc", 1000, "uniform");
    g.settings["predictor"] = pred;
    g.settings["corrector"] = "langevin";
    g.settings["corrector_steps"] = std::to_string(n);
    g.settings["snr"] = num(snr);
    return grid_sampler(g, std::make_shared<PredictorCorrectorStep>(predictor_rule(pred, c), n, snr));
  });
  r.add("ode", [](const Config& c, const SDE& sde) -> std::shared_ptr<Sampler> {
    std::string method = c.get_choice("method", "rk45", {"euler", "heun", "rk4", "rk45"});
    if (method == "rk45") {
      RK45Options o;
      o.rtol = c.get_positive("rtol", 1e-5);
      o.atol = c.get_positive("atol", 1e-5);
      double eps = c.get_double("eps", 1e-3, 0.0, sde.T());
      bool denoise = c.get_bool("denoise", false);
      Settings st{{"type", "ode"}, {"method", "rk45"}, {"rtol", num(o.rtol)}, {"atol", num(o.atol)},
                  {"eps", num(eps)}, {"denoise", denoise ? "true" : "false"}};
      return std::make_shared<AdaptiveODESampler>(o, eps, denoise, st);
    }
    GridSpec g = continuous_grid(c, sde, "ode", method == "euler" ? 500 : 100, "uniform");
    g.settings["method"] = method;
    auto m = method == "euler" ? ODEStep::Method::euler : method == "heun" ? ODEStep::Method::heun : ODEStep::Method::rk4;
    return grid_sampler(g, std::make_shared<ODEStep>(m));
  });
  r.add("edm", [](const Config& c, const SDE& sde) {
    EDMOptions o;
    GridSpec g = continuous_grid(c, sde, "edm", 18, "karras");
    o.steps = g.grid.size(0) - 1;
    o.churn = c.get_double("churn", 0.0, 0.0);
    o.s_tmin = c.get_double("s_tmin", 0.0, 0.0);
    o.s_tmax = c.get_double("s_tmax", o.s_tmax, 0.0);
    o.s_noise = c.get_double("s_noise", 1.0, 0.0);
    g.settings["churn"] = num(o.churn);
    g.settings["s_tmin"] = num(o.s_tmin);
    g.settings["s_tmax"] = num(o.s_tmax);
    g.settings["s_noise"] = num(o.s_noise);
    return grid_sampler(g, std::make_shared<EDMStep>(o));
  });
  r.add("dpm_solver_2m", [](const Config& c, const SDE& sde) {
    GridSpec g = continuous_grid(c, sde, "dpm_solver_2m", 20, "log_snr");
    bool lof = c.get_bool("lower_order_final", true);
    g.settings["lower_order_final"] = lof ? "true" : "false";
    return grid_sampler(g, std::make_shared<DPMSolver2MStep>(lof));
  });
}

}  // namespace scorelab
