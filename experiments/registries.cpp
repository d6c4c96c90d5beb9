#include "experiments/registries.h"

#include "core/config.h"
#include "experiments/data/gmm_dataset.h"
#include "experiments/data/image_dataset.h"
#include "experiments/data/toy.h"
#include "losses/ddpm.h"
#include "losses/dsm.h"
#include "losses/ncsn.h"
#include "losses/score_matching.h"
#include "networks/edm_precond.h"
#include "networks/energy.h"
#include "networks/mlp.h"
#include "networks/oracle.h"
#include "networks/unet.h"
#include "sde/ddpm.h"
#include "sde/ve.h"
#include "sde/vp.h"
#include "solvers/adams.h"
#include "solvers/ancestral_sigma.h"
#include "solvers/dpm_singlestep.h"
#include "solvers/dpm_solver.h"
#include "solvers/edm.h"
#include "solvers/euler_maruyama.h"
#include "solvers/inpaint.h"
#include "solvers/langevin.h"
#include "solvers/ode.h"
#include "solvers/steps.h"
#include "solvers/unipc.h"

namespace scorelab {
namespace {

Parameterization parameterization_from(const Config& cfg, const SDE& sde) {
  std::string p = cfg.get_choice("parameterization", "eps", {"eps", "x0", "score", "v", "mu", "energy", "edm"});
  if (p == "edm") return Parameterization::x0;  // EDM preconditioning predicts x0 (networks/edm_precond.h)
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

// The options of a network section, parsed without building the network (RunSpec validation).
struct NetOptions {
  bool energy;
  Parameterization p;
  Conditioning cond;
  double edm_sigma_data = 0;  // > 0: EDM preconditioning
  int64_t classes = 0;        // > 0: class-conditional (model.class_conditional)
};
NetOptions net_options(const Config& c, const ModelContext& ctx) {
  const std::string kind = c.has("parameterization") ? c.get_string("parameterization", "") : "";
  NetOptions n{kind == "energy", parameterization_from(c, *ctx.sde), conditioning_from(c, *ctx.sde)};
  if (kind == "edm") {
    // EDM's c_noise = ln(sigma / alpha) / 4 is its conditioning.
    if (c.get_string("conditioning", "auto") != "auto")
      c.fail("conditioning", "EDM preconditioning conditions on c_noise = ln(sigma / alpha) / 4: leave it auto");
    if (ctx.sde->ddpm_chain())
      c.fail("parameterization", "edm needs a continuous SDE (vp, subvp, ve); the ddpm chain conditions on step indices");
    n.edm_sigma_data = c.get_positive("sigma_data", 0.5);
  } else if (c.has("sigma_data")) {
    c.fail("sigma_data", "is EDM's sigma_data: only with parameterization: edm");
  }
  if (c.get_bool("class_conditional", false)) {
    if (ctx.data_classes <= 0)
      c.fail("class_conditional", "needs labelled data (fashion_mnist, mnist, cifar10, gmm, or hdf5 with labels and classes)");
    if (n.energy) c.fail("class_conditional", "energy models take no class labels");
    n.classes = ctx.data_classes;
  }
  return n;
}
int64_t flat_dim(const std::vector<int64_t>& shape) {
  int64_t dim = 1;
  for (auto s : shape) dim *= s;
  return dim;
}
std::pair<NetOptions, MLPOptions> mlp_model_options(const Config& c, const ModelContext& ctx) {
  std::pair<NetOptions, MLPOptions> r{net_options(c, ctx), MLPOptions::from(c, flat_dim(ctx.sample_shape), ctx.seed)};
  r.second.classes = r.first.classes;
  return r;
}
std::pair<NetOptions, UNetOptions> unet_model_options(const Config& c, const ModelContext& ctx) {
  std::pair<NetOptions, UNetOptions> r{net_options(c, ctx), UNetOptions::from(c, ctx.sample_shape)};
  r.second.classes = r.first.classes;
  return r;
}

std::shared_ptr<ScoreModel> score_model(std::shared_ptr<ScoreNetImpl> net, const NetOptions& n, const ModelContext& ctx) {
  if (n.energy) return std::make_shared<EnergyScoreModel>(std::move(net), ctx.sde, n.cond);
  if (n.edm_sigma_data > 0) return std::make_shared<EDMScoreModel>(std::move(net), ctx.sde, n.edm_sigma_data);
  return std::make_shared<NeuralScoreModel>(std::move(net), ctx.sde, n.p, n.cond);
}
std::shared_ptr<ScoreModel> mlp_model_from(const Config& c, ModelContext ctx) {
  auto [n, o] = mlp_model_options(c, ctx);
  if (n.energy) o.out_dim = 1;
  return score_model(std::make_shared<MLPImpl>(o), n, ctx);
}
std::shared_ptr<ScoreModel> unet_model_from(const Config& c, ModelContext ctx) {
  auto [n, o] = unet_model_options(c, ctx);
  if (n.energy) o.out_channels = 1;
  return score_model(std::make_shared<UNetImpl>(o), n, ctx);
}

}  // namespace

void register_builtin(Registries& r) {
  r.sde.add("vp", [](const Config& c) { return std::make_shared<VPSDE>(beta_schedule_from(c)); });
  r.sde.add("subvp", [](const Config& c) { return std::make_shared<SubVPSDE>(beta_schedule_from(c)); });
  r.sde.add("ve", [](const Config& c) { return std::make_shared<VESDE>(VESDEOptions::from(c)); });
  r.sde.add("ddpm", [](const Config& c) { return std::make_shared<DDPMSDE>(DDPMSDE::chain_from(c)); });

  for (const auto& name : toy_names()) {
    r.data.add(name, [name](const Config&, uint64_t) { return std::make_shared<ToyDataset>(name); });
    r.data_info.add(name, [](const Config&) { return std::make_shared<DataInfo>(DataInfo{{2}}); });
  }
  for (const char* type : {"fashion_mnist", "mnist", "cifar10", "hdf5"}) {
    r.data.add(type, [type](const Config& c, uint64_t seed) { return image_dataset_from(type, c, seed); });
    r.data_info.add(type, [type](const Config& c) { return image_info_from(type, c); });
  }
  r.data.add("gmm", [](const Config& c, uint64_t) { return std::make_shared<GMMDataset>(GaussianMixture::from(c)); });
  r.data_info.add("gmm", [](const Config& c) {
    GaussianMixture g = GaussianMixture::from(c);
    return std::make_shared<DataInfo>(DataInfo{{g.dim()}, true, true, g.weights.size(0)});
  });

  r.model.add("mlp", mlp_model_from, [](const Config& c, ModelContext ctx) { mlp_model_options(c, ctx); });
  r.model.add("unet", unet_model_from, [](const Config& c, ModelContext ctx) { unet_model_options(c, ctx); });
  r.model.add(
      "gmm_oracle",
      [](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
        return std::make_shared<OracleScoreModel>(GaussianMixture::from(c), ctx.sde);
      },
      [](const Config& c, ModelContext) { GaussianMixture::from(c); });
  r.model.add(
      "gaussian_oracle",
      [](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
        return std::make_shared<OracleScoreModel>(GaussianMixture::gaussian_from(c), ctx.sde);
      },
      [](const Config& c, ModelContext) { GaussianMixture::gaussian_from(c); });

  r.weighting.add("plain", plain_weighting_from);
  r.weighting.add("likelihood", likelihood_weighting_from);
  r.weighting.add("none", none_weighting_from);
  r.weighting.add("elbo", elbo_weighting_from);
  r.weighting.add("sigmoid", sigmoid_weighting_from);
  r.weighting.add("edm", edm_weighting_from);
  r.weighting.add("min_snr", min_snr_weighting_from);
  const WeightingRegistry* weightings = &r.weighting;
  r.loss.add("dsm", [weightings](const Config& c, LossContext ctx) {
    return std::make_shared<DSMLoss>(DSMOptions::from(c, *weightings), ctx);
  });
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

  r.sampler.add("euler_maruyama", euler_maruyama_sampler_from);
  r.sampler.add("reverse_diffusion", reverse_diffusion_sampler_from);
  r.sampler.add("ancestral", ancestral_sampler_from);
  r.sampler.add("ddim", ddim_sampler_from);
  r.sampler.add("annealed_langevin", annealed_langevin_sampler_from);
  r.sampler.add("pc", pc_sampler_from);
  r.sampler.add("ode", ode_sampler_from);
  r.sampler.add("edm", edm_sampler_from);
  r.sampler.add("dpm_solver_2m", dpm_solver_2m_sampler_from);
  r.sampler.add("dpm_solver_2m_sde", dpm_solver_2m_sde_sampler_from);
  r.sampler.add("dpm_solver_3m_sde", dpm_solver_3m_sde_sampler_from);
  r.sampler.add("dpm_solver_2s_ancestral", dpm_solver_2s_ancestral_sampler_from);
  r.sampler.add("dpm_solver", dpm_solver_sampler_from);
  r.sampler.add("dpm_solver_adaptive", dpm_solver_adaptive_sampler_from);
  r.sampler.add("euler_ancestral", euler_ancestral_sampler_from);
  r.sampler.add("unipc", unipc_sampler_from);
  r.sampler.add("lms", lms_sampler_from);
  r.sampler.add("deis", deis_sampler_from);
  // Other libraries' names for the same updates (docs/samplers.md, "Name map"); the sampler
  // records its canonical name.
  const std::map<std::string, Registry<Sampler, const SDE&>::Factory> factories{
      {"euler_ancestral", euler_ancestral_sampler_from}, {"edm", edm_sampler_from},
      {"dpm_solver_2m", dpm_solver_2m_sampler_from},     {"dpm_solver_2m_sde", dpm_solver_2m_sde_sampler_from},
      {"dpm_solver_3m_sde", dpm_solver_3m_sde_sampler_from},
      {"dpm_solver_2s_ancestral", dpm_solver_2s_ancestral_sampler_from},
      {"dpm_solver_adaptive", dpm_solver_adaptive_sampler_from}, {"unipc", unipc_sampler_from}};
  for (const auto& [alias, canonical] : sampler_aliases()) r.sampler.add(alias, factories.at(canonical));

  r.metric.add(sliced_w2_metric());
  r.metric.add(mmd2_metric());
  r.metric.add(energy_distance_metric());
  r.metric.add(coverage_metric());
  r.metric.add(mass_tv_metric());
  r.metric.add(nll_target_metric());
  r.metric.add(fd_metric());
  r.metric.add(class_accuracy_metric());
}

const std::vector<std::pair<std::string, std::string>>& sampler_aliases() {
  static const std::vector<std::pair<std::string, std::string>> aliases{
      {"euler", "euler_ancestral"},       // eta 0
      {"heun", "edm"},                    // churn 0
      {"dpmpp_2m", "dpm_solver_2m"},
      {"dpmpp_2m_sde", "dpm_solver_2m_sde"},
      {"dpmpp_3m_sde", "dpm_solver_3m_sde"},
      {"dpmpp_2s_ancestral", "dpm_solver_2s_ancestral"},
      {"dpm_adaptive", "dpm_solver_adaptive"},
      {"uni_pc", "unipc"},                // variant bh1 (ComfyUI's k-diffusion fork)
      {"uni_pc_bh2", "unipc"},            // variant bh2
  };
  return aliases;
}

std::shared_ptr<Sampler> build_sampler(const Registries& reg, const Config& sample, const SDE& sde,
                                       const std::vector<int64_t>& sample_shape) {
  std::shared_ptr<Sampler> s = reg.sampler.build(sample, "euler_maruyama", sde);
  if (sample.get_choice("noise", "independent", {"independent", "brownian_tree"}) == "brownian_tree") {
    if (!s->stochastic())
      sample.fail("noise", "sampler '" + s->name() + "' draws no step noise with these settings: brownian_tree does not apply");
    if (s->name() == "annealed_langevin")
      sample.fail("noise", "annealed Langevin's draws are Langevin moves at fixed levels, not increments of one path");
    s->use_brownian_noise(true);
  }
  if (sample.has("inpaint")) return with_inpainting(*s, inpaint_from(sample.at("inpaint"), sample_shape), sample);
  return s;
}

const Registries& builtin_registries() {
  // Filled in place: entries may point into the registries (the DSM loss to its weightings).
  static Registries r;
  static const bool filled = (register_builtin(r), true);
  (void)filled;
  return r;
}

}  // namespace scorelab
