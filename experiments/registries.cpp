#include "experiments/registries.h"

#include "core/config.h"
#include "experiments/gmm_dataset.h"
#include "experiments/image_dataset.h"
#include "experiments/toy.h"
#include "losses/ddpm.h"
#include "losses/dsm.h"
#include "losses/ncsn.h"
#include "losses/score_matching.h"
#include "networks/energy.h"
#include "networks/mlp.h"
#include "networks/oracle.h"
#include "networks/unet.h"
#include "sde/ddpm.h"
#include "sde/ve.h"
#include "sde/vp.h"
#include "solvers/build.h"

namespace scorelab {
namespace {

Parameterization parameterization_from(const Config& cfg, const SDE& sde) {
  std::string p = cfg.get_choice("parameterization", "eps", {"eps", "x0", "score", "v", "mu", "energy"});
  if (p == "mu" && !sde.ddpm_chain())
    cfg.fail("parameterization", "mu (DDPM's posterior mean) needs a discrete chain: sde.type: ddpm, not '" +
                                     sde.name() + "'");
  return parse_parameterization(p == "energy" ? "score" : p);
}

Conditioning conditioning_from(const Config& cfg, const SDE& sde) {
  std::string c = cfg.get_choice("conditioning", "auto", {"auto", "time", "log_sigma", "index"});
  if (c == "index" && !sde.ddpm_chain())
    cfg.fail("conditioning", "index conditioning needs a discrete chain (sde.type: ddpm), not '" + sde.name() + "'");
  return parse_conditioning(c, sde);
}

}  // namespace

void register_builtin(Registries& r) {
  r.sde.add("vp", [](const Config& c) { return std::make_shared<VPSDE>(beta_schedule_from(c)); });
  r.sde.add("subvp", [](const Config& c) { return std::make_shared<SubVPSDE>(beta_schedule_from(c)); });
  r.sde.add("ve", [](const Config& c) { return std::make_shared<VESDE>(VESDEOptions::from(c)); });
  r.sde.add("ddpm", [](const Config& c) { return std::make_shared<DDPMSDE>(DDPMSDE::chain_from(c)); });

  for (const auto& name : toy_names())
    r.data.add(name, [name](const Config&, uint64_t) { return std::make_shared<ToyDataset>(name); });
  for (const char* type : {"fashion_mnist", "mnist", "cifar10", "hdf5"})
    r.data.add(type, [type](const Config& c, uint64_t seed) { return image_dataset_from(type, c, seed); });
  r.data.add("gmm", [](const Config& c, uint64_t) { return std::make_shared<GMMDataset>(GaussianMixture::from(c)); });

  r.model.add("mlp", [](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
    int64_t dim = 1;
    for (auto s : ctx.sample_shape) dim *= s;
    bool energy = c.has("parameterization") && c.get_string("parameterization", "") == "energy";
    Parameterization p = parameterization_from(c, *ctx.sde);
    Conditioning cond = conditioning_from(c, *ctx.sde);
    MLPOptions o = MLPOptions::from(c, dim, ctx.seed);
    if (energy) {
      o.out_dim = 1;
      return std::make_shared<EnergyScoreModel>(std::make_shared<MLPImpl>(o), ctx.sde, cond);
    }
    return std::make_shared<NeuralScoreModel>(std::make_shared<MLPImpl>(o), ctx.sde, p, cond);
  });
  r.model.add("unet", [](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
    bool energy = c.has("parameterization") && c.get_string("parameterization", "") == "energy";
    Parameterization p = parameterization_from(c, *ctx.sde);
    Conditioning cond = conditioning_from(c, *ctx.sde);
    UNetOptions o = UNetOptions::from(c, ctx.sample_shape);
    if (energy) {
      o.out_channels = 1;
      return std::make_shared<EnergyScoreModel>(std::make_shared<UNetImpl>(o), ctx.sde, cond);
    }
    return std::make_shared<NeuralScoreModel>(std::make_shared<UNetImpl>(o), ctx.sde, p, cond);
  });
  r.model.add("gmm_oracle", [](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
    return std::make_shared<OracleScoreModel>(GaussianMixture::from(c), ctx.sde);
  });
  r.model.add("gaussian_oracle", [](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
    return std::make_shared<OracleScoreModel>(GaussianMixture::gaussian_from(c), ctx.sde);
  });

  r.loss.add("dsm", [](const Config& c, LossContext ctx) { return std::make_shared<DSMLoss>(DSMOptions::from(c), ctx); });
  r.loss.add("ddpm", [](const Config& c, LossContext ctx) {
    if (!ctx.sde->ddpm_chain())
      c.fail("type", "the DDPM objectives need a discrete chain: sde.type: ddpm, not '" + ctx.sde->name() + "'");
    return std::make_shared<DDPMLoss>(DDPMLossOptions::from(c), ctx);
  });
  r.loss.add("ncsn", [](const Config& c, LossContext ctx) -> std::shared_ptr<Loss> {
    NCSNLossOptions o = NCSNLossOptions::from(c);
    try {
      return std::make_shared<NCSNLoss>(o, ctx);
    } catch (const c10::Error& e) {
      c.fail("sigma_max", e.what_without_backtrace());
    }
  });
  r.loss.add("ssm", [](const Config& c, LossContext ctx) {
    return std::make_shared<ScoreMatchingLoss>(true, ScoreMatchingLoss::options_from(c, true, ctx), ctx);
  });
  r.loss.add("ism", [](const Config& c, LossContext ctx) {
    return std::make_shared<ScoreMatchingLoss>(false, ScoreMatchingLoss::options_from(c, false, ctx), ctx);
  });

  register_samplers(r.sampler);
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
