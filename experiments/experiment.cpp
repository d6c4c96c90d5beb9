#include "experiments/experiment.h"

#include <ATen/ATen.h>

#include "core/device.h"
#include "core/progress.h"
#include "experiments/image_dataset.h"

namespace scorelab {

Experiment build_experiment(const Config& cfg, const std::string& default_name, const Registries& reg) {
  Experiment ex{cfg};
  Config run = cfg.at("run");
  ex.run.name = run.get_string("name", default_name);
  if (ex.run.name.empty() || ex.run.name.find('/') != std::string::npos || ex.run.name == "." || ex.run.name == "..")
    run.fail("name", "must be a non-empty directory name without '/', got '" + ex.run.name + "'");
  ex.run.out_dir = run.get_string("out_dir", ex.run.out_dir);
  ex.run.seed = static_cast<uint64_t>(run.get_int("seed", 0, 0));
  ex.device = select_device(run);
  ex.run.threads = run.get_int("threads", 0, 0, 1024);
  ex.run.dtype = run.get_choice("dtype", "float32", {"float32", "float64"}) == "float64" ? c10::kDouble : c10::kFloat;

  Config train = cfg.at("train");
  TrainOptions& t = ex.train;
  t.steps = train.get_int("steps", t.steps, 0, 100000000);
  t.batch_size = train.get_int("batch_size", t.batch_size, 1, 1 << 24);
  t.lr = train.get_positive("lr", t.lr);
  t.ema_decay = train.get_double("ema_decay", t.ema_decay, 0.0, 1.0);
  t.ema_warmup = train.get_bool("ema_warmup", t.ema_warmup);
  t.grad_clip = train.get_double("grad_clip", t.grad_clip, 0.0);  // 0: no clipping
  t.log_every = train.get_int("log_every", t.log_every, 1);
  t.ckpt_every = train.get_int("ckpt_every", t.ckpt_every, 1);
  t.resume = train.get_bool("resume", t.resume);

  Config data = cfg.at("data");
  ex.data = reg.data.build(data, "", ex.run.seed);
  const Registries* regp = &reg;
  const uint64_t seed = ex.run.seed;
  ex.make_data = [regp, cfg, seed](const std::vector<std::string>& data_overrides) {
    std::vector<std::string> ov;
    for (const auto& o : data_overrides) ov.push_back("data." + o);
    Config view = Config::from_string(cfg.resolved_yaml(), cfg.source(), ov);
    return regp->data.build(view.at("data"), "", seed);
  };
  Config sde = cfg.at("sde");
  ex.sde = reg.sde.build(sde, "vp");
  Config model = cfg.at("model");
  ModelContext ctx{ex.sde, ex.data->sample_shape(), ex.run.seed};
  auto first = reg.model.build(model, "mlp", ctx);  // validates model.* now
  bool handed_out = false;
  ex.make_model = [first, handed_out, &reg, model, ctx]() mutable {
    if (!handed_out) {
      handed_out = true;
      return first;
    }
    return reg.model.build(model, "mlp", ctx);
  };
  ex.loss = reg.loss.build(cfg.at("loss"), "dsm", LossContext{ex.sde, ex.data->sample_shape()});
  ex.sampler = reg.sampler.build(cfg.at("sample"), "euler_maruyama", *ex.sde);
  Config sample = cfg.at("sample");
  ex.sample.n = sample.get_int("n", ex.sample.n, 1);
  ex.sample.batch_size = sample.get_int("batch_size", ex.sample.batch_size, 0);
  ex.sample.use_ema = sample.get_bool("use_ema", ex.sample.use_ema);
  Config eval = cfg.at("eval");
  ex.eval.n = eval.get_int("n", ex.eval.n, 2);
  ex.eval.projections = eval.get_int("projections", ex.eval.projections, 1, 1 << 16);
  ex.eval.every = eval.get_int("every", ex.eval.every, 0);
  ex.eval.grid = eval.get_int("grid", ex.eval.grid, 1, 4096);
  const bool labelled = ex.data->is_image() && [&] {
    auto img = std::dynamic_pointer_cast<ImageDataset>(ex.data);
    return img && img->data().labels.defined();
  }();
  std::string fd = eval.get_choice("fd", ex.data->is_image() ? "auto" : "false", {"auto", "true", "false"});
  if (fd == "true" && !labelled)
    eval.fail("fd", "the Fréchet distance needs labelled images (a classifier is trained on the labels)");
  ex.eval.fd = fd == "true" || (fd == "auto" && labelled);
  ex.eval.nll = eval.get_choice_list("nll", {}, {"vlb", "ode"});
  for (const auto& k : ex.eval.nll)
    if (k == "vlb" && !ex.sde->ddpm_chain())
      eval.fail("nll", "vlb (the DDPM variational bound) needs a discrete chain: sde.type: ddpm, not '" +
                           ex.sde->name() + "'; use ode for other SDEs");
  ex.eval.nll_n = eval.get_int("nll_n", ex.data->is_image() ? 64 : 1000, 1);
  if (ex.eval.fd) {
    Config c = cfg.at("classifier");
    ClassifierOptions& o = ex.classifier;
    o.channels = c.get_int("channels", o.channels, 8, 1024);
    if (o.channels % 8 != 0) c.fail("channels", "must be a multiple of 8 (GroupNorm with 8 groups)");
    o.features = c.get_int("features", o.features, 2, 4096);
    o.steps = c.get_int("steps", o.steps, 1);
    o.batch_size = c.get_int("batch_size", o.batch_size, 2);
    o.lr = c.get_positive("lr", o.lr);
    o.seed = static_cast<uint64_t>(c.get_int("seed", 0, 0));
    o.cache_dir = c.get_string("cache_dir", o.cache_dir);
  } else if (cfg.has("classifier")) {
    cfg.fail("classifier", "a classifier is only used for the Fréchet distance of labelled images (eval.fd)");
  }

  Config lik = cfg.at("likelihood");
  int64_t dim = 1;
  for (auto d : ex.data->sample_shape()) dim *= d;
  ex.likelihood.ode.divergence = lik.get_choice("divergence", dim > 64 ? "hutchinson_rademacher" : "exact",
                                                {"exact", "hutchinson_gaussian", "hutchinson_rademacher"});
  ex.likelihood.ode.ode.rtol = lik.get_positive("rtol", 1e-5);
  ex.likelihood.ode.ode.atol = lik.get_positive("atol", 1e-5);
  ex.likelihood.ode.eps = lik.get_double("eps", 1e-5, 0.0, 0.5);
  ex.likelihood.n = lik.get_int("n", 1000, 1);
  if (ex.likelihood.ode.divergence == "exact" && dim > 64 && lik.has("divergence"))
    lik.fail("divergence", "exact divergence needs " + std::to_string(dim) +
                               " backward passes per ODE step; use hutchinson_gaussian or hutchinson_rademacher");

  cfg.check_unused();
  return ex;
}

SampleResult draw_samples(const Experiment& ex, const ScoreModel& model, int64_t n, uint64_t seed,
                          const std::string& progress_label) {
  int64_t bs = ex.sample.batch_size > 0 ? ex.sample.batch_size : n;
  auto opts = at::TensorOptions().dtype(ex.run.dtype).device(ex.device);
  SampleResult total;
  std::vector<at::Tensor> parts;
  Progress bar(progress_label, n);
  for (int64_t first = 0; first < n; first += bs) {
    int64_t count = std::min(bs, n - first);
    at::Tensor xT = prior_noise(model, seed, first, count, ex.data->sample_shape(), opts);
    NoiseSource noise = NoiseSource::range(seed, first, count, ex.device);
    SampleResult r = ex.sampler->sample(model, xT, noise, [&](const StepInfo& s) {
      if (s.k % 16 == 0 || s.k + 1 == s.steps)
        bar.update(first + count * (s.k + 1) / s.steps, "nfe " + std::to_string(model.nfe()));
    });
    parts.push_back(r.x);
    total.nfe = std::max(total.nfe, r.nfe);  // per trajectory, the same for every batch
    total.seconds += r.seconds;
  }
  bar.finish("nfe " + std::to_string(total.nfe));
  total.x = at::cat(parts, 0);
  return total;
}

}  // namespace scorelab
