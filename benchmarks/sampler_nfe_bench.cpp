// Quality versus NFE for the samplers on the exact score of a 2-D Gaussian mixture (the target
// of tests/solvers/convergence_test.cpp): sliced W2 to 20 000 exact samples for 4 000 samples
// per run, next to the Monte-Carlo floor (4 000 exact samples). Prints a Markdown table
// (docs/samplers.md). Build with -DSCORELAB_BUILD_BENCHMARKS=ON; run build/sampler_nfe_bench.
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "experiments/evaluation/metrics.h"
#include "experiments/registries.h"
#include "networks/oracle.h"

using namespace scorelab;

int main(int argc, char** argv) {
  GaussianMixture g = GaussianMixture::from(Config::from_string(
      "means: [[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]]\nstds: [0.3, 0.3, 0.3]\nweights: [0.5, 0.25, 0.25]\n", "t"));
  at::Generator gen = make_generator(99), proj = make_generator(77);
  SlicedW2Reference ref(g.sample(20000, gen), 256, proj);
  const int64_t n = 4000;
  double floor = 0;
  for (int k = 0; k < 8; ++k) floor += ref.distance(g.sample(n, gen)) / 8;
  std::printf("Monte-Carlo floor (4000 exact samples): %.4f\n\n", floor);
  struct Row {
    std::string label, sde, sample;
    bool stochastic = false;
  };
  const std::string vp = "{type: vp}";
  std::vector<Row> rows{{"ode euler", vp, "{type: ode, method: euler, steps: %d}"},
                        {"ode heun", vp, "{type: ode, method: heun, steps: %d}"},
                        {"ode rk4", vp, "{type: ode, method: rk4, steps: %d}"},
                        {"edm (churn 0)", vp, "{type: edm, steps: %d}"},
                        {"dpm_solver_2m", vp, "{type: dpm_solver_2m, steps: %d}"},
                        {"ddim (eta 0)", "{type: ddpm}", "{type: ddim, steps: %d}"},
                        {"euler_ancestral eta 0 (euler)", vp, "{type: euler, steps: %d}"},
                        {"dpm_solver order 1", vp, "{type: dpm_solver, order: 1, steps: %d}"},
                        {"dpm_solver order 2", vp, "{type: dpm_solver, order: 2, steps: %d}"},
                        {"dpm_solver order 3", vp, "{type: dpm_solver, order: 3, steps: %d}"},
                        {"dpm_solver_2m_sde eta 0", vp, "{type: dpm_solver_2m_sde, eta: 0, steps: %d}"},
                        {"dpm_solver_3m_sde eta 0", vp, "{type: dpm_solver_3m_sde, eta: 0, steps: %d}"},
                        {"unipc bh1", vp, "{type: unipc, variant: bh1, steps: %d}"},
                        {"unipc bh2", vp, "{type: unipc, variant: bh2, steps: %d}"},
                        {"unipc bh2 order 3", vp, "{type: unipc, variant: bh2, order: 3, steps: %d}"},
                        {"lms", vp, "{type: lms, steps: %d}"},
                        {"deis", vp, "{type: deis, steps: %d}"},
                        {"euler_maruyama", vp, "{type: euler_maruyama, steps: %d}", true},
                        {"euler_ancestral", vp, "{type: euler_ancestral, steps: %d}", true},
                        {"dpm_solver_2s_ancestral", vp, "{type: dpm_solver_2s_ancestral, steps: %d}", true},
                        {"dpm_solver_2m_sde", vp, "{type: dpm_solver_2m_sde, steps: %d}", true},
                        {"dpm_solver_3m_sde", vp, "{type: dpm_solver_3m_sde, steps: %d}", true}};
  if (argc > 1) {  // only the rows whose label contains the argument
    std::vector<Row> keep;
    for (const auto& r : rows)
      if (r.label.find(argv[1]) != std::string::npos) keep.push_back(r);
    rows = keep;
  }
  // The converged probability-flow ODE solution from the same x_T (RK45, tolerance 1e-8), per
  // SDE: deterministic samplers converge to it, and their RMSE to it shows their order.
  auto converged = [&](const std::string& sde_yaml) {
    Config cfg = Config::from_string("sde: " + sde_yaml + "\nsample: {type: ode, method: rk45, rtol: 1.0e-8, atol: 1.0e-8}\n", "ref");
    auto sde = builtin_registries().sde.build(cfg.at("sde"), "vp");
    auto sampler = builtin_registries().sampler.build(cfg.at("sample"), "", *sde);
    OracleScoreModel model(g, sde);
    at::Tensor xT = prior_noise(model, 5, 0, n, {2}, at::TensorOptions().dtype(at::kDouble));
    return sampler->sample(model, xT, NoiseSource::range(5, 0, n, c10::Device(c10::kCPU))).x;
  };
  std::map<std::string, at::Tensor> limit{{"{type: vp}", converged("{type: vp}")}, {"{type: ddpm}", converged("{type: ddpm}")}};
  std::printf("| sampler | steps | NFE | sliced W2 | RMSE to the converged ODE solution |\n|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    for (int steps : {2, 4, 8, 16, 32, 64, 128, 512}) {
      if (r.label.find("order 3") != std::string::npos && steps < 3) continue;
      char buf[128];
      std::snprintf(buf, sizeof buf, r.sample.c_str(), steps);
      Config cfg = Config::from_string("sde: " + r.sde + "\nsample: " + buf + "\n", "bench");
      const Registries& reg = builtin_registries();
      auto sde = reg.sde.build(cfg.at("sde"), "vp");
      auto sampler = reg.sampler.build(cfg.at("sample"), "", *sde);
      OracleScoreModel model(g, sde);
      at::Tensor xT = prior_noise(model, 5, 0, n, {2}, at::TensorOptions().dtype(at::kDouble));
      SampleResult s = sampler->sample(model, xT, NoiseSource::range(5, 0, n, c10::Device(c10::kCPU)));
      double rmse = (s.x - limit[r.sde]).pow(2).sum(1).mean().sqrt().item<double>();
      std::printf("| %s | %d | %ld | %.4f | %s |\n", r.label.c_str(), steps, static_cast<long>(s.nfe), ref.distance(s.x),
                  r.stochastic ? "(stochastic)" : std::to_string(rmse).c_str());
    }
  }
  // The adaptive solvers at several tolerances.
  struct Adaptive {
    std::string label, yaml;  // yaml: the sample section with %g for rtol and atol
    std::vector<double> tols;
  };
  for (const Adaptive& a : {Adaptive{"dpm_solver_adaptive", "{type: dpm_solver_adaptive, rtol: %g, atol: %g}", {1e-2, 1e-3, 1e-4}},
                            Adaptive{"ode rk45", "{type: ode, method: rk45, rtol: %g, atol: %g}", {1e-2, 1e-3, 1e-4, 1e-5}}}) {
    for (double tol : a.tols) {
      char buf[160];
      std::snprintf(buf, sizeof buf, a.yaml.c_str(), tol, tol);
      Config cfg = Config::from_string("sde: {type: vp}\nsample: " + std::string(buf) + "\n", "bench");
      auto sde = builtin_registries().sde.build(cfg.at("sde"), "vp");
      auto sampler = builtin_registries().sampler.build(cfg.at("sample"), "", *sde);
      OracleScoreModel model(g, sde);
      at::Tensor xT = prior_noise(model, 5, 0, n, {2}, at::TensorOptions().dtype(at::kDouble));
      SampleResult s = sampler->sample(model, xT, NoiseSource::range(5, 0, n, c10::Device(c10::kCPU)));
      double rmse = (s.x - limit["{type: vp}"]).pow(2).sum(1).mean().sqrt().item<double>();
      std::printf("| %s (tol %.0e) | %.0f+%.0f rejected | %ld | %.4f | %f |\n", a.label.c_str(), tol,
                  s.stats["accepted_steps"], s.stats["rejected_steps"], static_cast<long>(s.nfe), ref.distance(s.x), rmse);
    }
  }
  return 0;
}
