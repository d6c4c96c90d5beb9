// Every sampler, run on the exact (oracle) score of a Gaussian mixture, approaches the exact
// target as its steps grow: at a stated step count its samples are as close to fresh exact
// samples (sliced W2) as another set of exact samples is — within the Monte-Carlo floor —
// and they put the right mass on each component; at a handful of steps they are clearly not.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <memory>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "experiments/evaluation/metrics.h"
#include "experiments/registries.h"
#include "networks/oracle.h"

using namespace scorelab;

namespace {

struct Target {
  std::string name;
  GaussianMixture gmm;
};

Target target_2d() {
  return {"2-D", GaussianMixture::from(Config::from_string(
                     "means: [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]]\nstds: [0.3, 0.3, 0.3]\nweights: [0.5, 0.25, 0.25]\n", "t"))};
}

// Four components in 16-D with full covariances (a random rotation of a diagonal spectrum).
Target target_16d() {
  at::Generator g = make_generator(123);
  const int64_t D = 16, K = 4;
  GaussianMixture m;
  m.weights = at::tensor({0.4, 0.3, 0.2, 0.1}, at::kDouble);
  m.means = 2.0 * at::randn({K, D}, g, at::kDouble);
  at::Tensor q = std::get<0>(at::linalg_qr(at::randn({K, D, D}, g, at::kDouble)));
  at::Tensor spectrum = 0.05 + 0.3 * at::rand({K, D}, g, at::kDouble);
  m.covs = at::matmul(q * spectrum.unsqueeze(1), q.transpose(1, 2));
  m.covs = 0.5 * (m.covs + m.covs.transpose(1, 2));
  return {"16-D", m};
}

struct Floor {
  double mean, sd;
};

constexpr int64_t kN = 4000;

// SW2 between independent exact sample sets of size kN and the reference: its mean and spread.
Floor measure_floor(const GaussianMixture& g, const SlicedW2Reference& ref) {
  at::Generator gen = make_generator(4242);
  std::vector<double> v;
  for (int k = 0; k < 12; ++k) v.push_back(ref.distance(g.sample(kN, gen)));
  double m = 0, s2 = 0;
  for (double x : v) m += x / v.size();
  for (double x : v) s2 += (x - m) * (x - m) / (v.size() - 1);
  return {m, std::sqrt(s2)};
}

at::Tensor component_mass(const GaussianMixture& g, const at::Tensor& x) {
  at::Tensor one = at::ones({x.size(0)}, at::kDouble), zero = at::zeros({x.size(0)}, at::kDouble);
  at::Tensor k = g.responsibilities(x.to(at::kDouble), one, zero).argmax(1);
  return at::bincount(k, {}, g.weights.size(0)).to(at::kDouble) / x.size(0);
}

at::Tensor run_sampler(const GaussianMixture& g, const std::string& sde_yaml, const std::string& sampler_yaml) {
  Config cfg = Config::from_string("sde: " + sde_yaml + "\nsample: " + sampler_yaml + "\n", "conv.yaml");
  const Registries& reg = builtin_registries();
  std::shared_ptr<SDE> sde = reg.sde.build(cfg.at("sde"), "vp");
  auto sampler = reg.sampler.build(cfg.at("sample"), "", *sde);
  cfg.check_unused();
  OracleScoreModel model(g, sde);
  auto opts = at::TensorOptions().dtype(at::kDouble);
  at::Tensor xT = prior_noise(model, /*seed=*/5, 0, kN, {g.dim()}, opts);
  return sampler->sample(model, xT, NoiseSource::range(5, 0, kN, c10::Device(c10::kCPU))).x;
}

// The sampler at `good` reaches the floor on both targets; at `bad` (if given) it does not.
// A target's reference set, floor and exact component masses: the same for every sampler, so
// computed once per target.
struct Baseline {
  std::shared_ptr<SlicedW2Reference> ref;
  Floor floor;
  at::Tensor exact_mass;
};
const Baseline& baseline(const Target& tg) {
  static std::map<std::string, Baseline> cache;
  auto it = cache.find(tg.name);
  if (it != cache.end()) return it->second;
  at::Generator gen = make_generator(99);
  at::Generator proj = make_generator(77);
  Baseline b;
  b.ref = std::make_shared<SlicedW2Reference>(tg.gmm.sample(20000, gen), 256, proj);
  b.floor = measure_floor(tg.gmm, *b.ref);
  b.exact_mass = component_mass(tg.gmm, tg.gmm.sample(kN, gen));
  return cache.emplace(tg.name, b).first->second;
}

void check_converges(const std::string& sde_yaml, const std::string& good, const std::string& bad = "") {
  for (const Target& tg : {target_2d(), target_16d()}) {
    INFO(tg.name << " target, sde " << sde_yaml);
    const Baseline& base = baseline(tg);
    const SlicedW2Reference& ref = *base.ref;
    const Floor floor = base.floor;
    at::Tensor x = run_sampler(tg.gmm, sde_yaml, good);
    double d = ref.distance(x);
    INFO("sampler " << good << ": SW2 " << d << ", floor " << floor.mean << " +- " << floor.sd);
    CHECK(d < floor.mean + 4 * floor.sd);
    const at::Tensor& exact_mass = base.exact_mass;
    at::Tensor mass = component_mass(tg.gmm, x);
    at::Tensor se = at::sqrt(2 * tg.gmm.weights * (1 - tg.gmm.weights) / kN);
    INFO("component mass " << mass << " exact " << exact_mass);
    CHECK(((mass - exact_mass).abs() < 5 * se).all().item<bool>());
    if (!bad.empty()) {
      double db = ref.distance(run_sampler(tg.gmm, sde_yaml, bad));
      INFO("sampler " << bad << ": SW2 " << db);
      CHECK(db > floor.mean + 4 * floor.sd);
    }
  }
}

}  // namespace

TEST_CASE("ancestral sampling (DDPM Alg. 2) converges to the target", "[solvers][convergence]") {
  check_converges("{type: ddpm}", "{type: ancestral}", "{type: ancestral, steps: 5}");
  check_converges("{type: ddpm}", "{type: ancestral, variance: beta_tilde}");
  check_converges("{type: ve, sigma_min: 0.01, sigma_max: 20}", "{type: ancestral, steps: 1000}",
                  "{type: ancestral, steps: 5}");
}
TEST_CASE("DDIM converges to the target", "[solvers][convergence]") {
  check_converges("{type: ddpm}", "{type: ddim, steps: 100}", "{type: ddim, steps: 3}");
  check_converges("{type: ddpm}", "{type: ddim, steps: 200, eta: 1.0, subsequence: quadratic}");
}
TEST_CASE("reverse-SDE Euler–Maruyama converges to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: euler_maruyama, steps: 2000}", "{type: euler_maruyama, steps: 10}");
}
TEST_CASE("reverse diffusion and predictor–corrector converge to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: reverse_diffusion, steps: 1000}", "{type: reverse_diffusion, steps: 10}");
  check_converges("{type: ve, sigma_min: 0.01, sigma_max: 20}", "{type: pc, steps: 500, snr: 0.16}");
}
TEST_CASE("annealed Langevin dynamics converges to the target", "[solvers][convergence]") {
  check_converges("{type: ve, sigma_min: 0.01, sigma_max: 20}",
                  "{type: annealed_langevin, levels: 20, steps_per_level: 200, step_lr: 2.0e-5, denoise: true}",
                  "{type: annealed_langevin, levels: 3, steps_per_level: 2, step_lr: 2.0e-5}");
}
TEST_CASE("probability-flow ODE solvers converge to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: ode, method: euler, steps: 500}", "{type: ode, method: euler, steps: 3}");
  check_converges("{type: vp}", "{type: ode, method: heun, steps: 50}", "{type: ode, method: heun, steps: 2}");
  check_converges("{type: vp}", "{type: ode, method: rk4, steps: 25}", "{type: ode, method: rk4, steps: 1}");
  check_converges("{type: vp}", "{type: ode, method: rk45, rtol: 1.0e-4, atol: 1.0e-4}");
}
TEST_CASE("EDM's stochastic Heun sampler converges to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: edm, steps: 40}", "{type: edm, steps: 2}");
  check_converges("{type: ve, sigma_min: 0.01, sigma_max: 20}", "{type: edm, steps: 40, churn: 10}");
}
TEST_CASE("DPM-Solver++(2M) converges to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: dpm_solver_2m, steps: 30}", "{type: dpm_solver_2m, steps: 3}");
}
TEST_CASE("Euler ancestral and DPM-Solver++(2S) ancestral converge to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: euler, steps: 100}", "{type: euler, steps: 3}");
  check_converges("{type: vp}", "{type: euler_ancestral, steps: 500}", "{type: euler_ancestral, steps: 5}");
  check_converges("{type: ve, sigma_min: 0.01, sigma_max: 20}", "{type: dpm_solver_2s_ancestral, steps: 40}",
                  "{type: dpm_solver_2s_ancestral, steps: 2}");
}
TEST_CASE("DPM-Solver++(2M) SDE and (3M) SDE converge to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: dpm_solver_2m_sde, steps: 40}", "{type: dpm_solver_2m_sde, steps: 3}");
  check_converges("{type: ve, sigma_min: 0.01, sigma_max: 20}", "{type: dpm_solver_2m_sde, steps: 40, solver_type: heun}");
  check_converges("{type: vp}", "{type: dpm_solver_3m_sde, steps: 40}", "{type: dpm_solver_3m_sde, steps: 3}");
}
TEST_CASE("single-step DPM-Solver of orders 1-3 and its adaptive variant converge to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: dpm_solver, order: 1, steps: 100}", "{type: dpm_solver, order: 1, steps: 3}");
  check_converges("{type: vp}", "{type: dpm_solver, order: 2, steps: 30}", "{type: dpm_solver, order: 2, steps: 2}");
  check_converges("{type: vp}", "{type: dpm_solver, order: 3, steps: 15}", "{type: dpm_solver, order: 3, steps: 1}");
  check_converges("{type: vp}", "{type: dpm_solver_adaptive, rtol: 1.0e-3, atol: 1.0e-3}");
}
TEST_CASE("UniPC, LMS and DEIS converge to the target", "[solvers][convergence]") {
  check_converges("{type: vp}", "{type: unipc, steps: 30}", "{type: unipc, steps: 3}");
  check_converges("{type: vp}", "{type: unipc, variant: bh1, order: 3, steps: 30}");
  check_converges("{type: vp}", "{type: lms, steps: 30}", "{type: lms, steps: 3}");
  check_converges("{type: ve, sigma_min: 0.01, sigma_max: 20}", "{type: deis, steps: 30}", "{type: deis, steps: 3}");
}
