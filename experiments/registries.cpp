#include "experiments/registries.h"

#include "core/config.h"
#include "experiments/toy.h"
#include "losses/dsm.h"
#include "networks/mlp.h"
#include "sde/vp.h"
#include "solvers/euler_maruyama.h"
#include "solvers/time_grid.h"

namespace scorelab {
namespace {

Parameterization parameterization_from(const Config& cfg) {
  std::string p = cfg.get_choice("parameterization", "eps", {"eps", "x0", "score", "v"});
  return parse_parameterization(p);
}

// The grid options every grid sampler shares: steps, eps cut-off, final denoising.
std::shared_ptr<Sampler> grid_sampler(const Config& cfg, const SDE& sde, const std::string& name,
                                      std::shared_ptr<const StepRule> rule, int64_t default_steps) {
  int64_t steps = cfg.get_int("steps", default_steps, 1, 1000000);
  double eps = cfg.get_double("eps", 1e-3, 0.0, sde.T());
  if (!(eps < sde.T())) cfg.fail("eps", "must be < T = " + std::to_string(sde.T()));
  bool denoise = cfg.get_bool("denoise", false);
  std::map<std::string, std::string> settings{{"type", name},
                                              {"steps", std::to_string(steps)},
                                              {"eps", std::to_string(eps)},
                                              {"grid", "uniform"},
                                              {"denoise", denoise ? "true" : "false"}};
  return std::make_shared<GridSampler>(name, uniform_time_grid(steps, sde.T(), eps), std::move(rule), denoise,
                                       settings);
}

}  // namespace

void register_builtin(Registries& r) {
  r.sde.add("vp", [](const Config& c) { return std::make_shared<VPSDE>(VPSDE::options_from(c)); });

  for (const auto& name : toy_names())
    r.data.add(name, [name](const Config&, uint64_t) { return std::make_shared<ToyDataset>(name); });

  r.model.add("mlp", [](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
    int64_t dim = 1;
    for (auto s : ctx.sample_shape) dim *= s;
    Parameterization p = parameterization_from(c);
    auto net = std::make_shared<MLPImpl>(MLPOptions::from(c, dim, ctx.seed));
    return std::make_shared<NeuralScoreModel>(net, ctx.sde, p);
  });

  r.loss.add("dsm", [](const Config& c) { return std::make_shared<DSMLoss>(DSMOptions::from(c)); });

  r.sampler.add("euler_maruyama", [](const Config& c, const SDE& sde) {
    return grid_sampler(c, sde, "euler_maruyama", std::make_shared<EulerMaruyamaStep>(), 500);
  });
}

const Registries& builtin_registries() {
  static const Registries r = [] {
    Registries reg;
    register_builtin(reg);
    return reg;
  }();
  return r;
}

}  // namespace scorelab
