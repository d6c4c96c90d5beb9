#include "experiments/run_spec.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "core/device.h"
#include "core/error.h"

namespace scorelab {

namespace {

void parse_run(RunSpec& s, const Config& cfg, const std::string& default_name) {
  Config run = cfg.at("run");
  s.run.name = run.get_string("name", default_name);
  if (s.run.name.empty() || s.run.name.find('/') != std::string::npos || s.run.name[0] == '.' ||
      s.run.name.size() > 200 || s.run.name.find('\0') != std::string::npos)
    run.fail("name", "must be a directory name of 1 to 200 characters, without '/' and not starting with '.', got '" +
                         s.run.name.substr(0, 60) + (s.run.name.size() > 60 ? "...'" : "'"));
  s.run.out_dir = run.get_string("out_dir", s.run.out_dir);
  s.run.seed = static_cast<uint64_t>(run.get_int("seed", 0, 0));
  s.device = select_device(run);
  s.run.threads = run.get_int("threads", 0, 0, 1024);
  s.run.dtype = run.get_choice("dtype", "float32", {"float32", "float64"}) == "float64" ? c10::kDouble : c10::kFloat;
  s.run.precision = run.get_choice("precision", "float32", {"float32", "bf16", "fp16"});
  if (s.run.precision != "float32" && s.device.is_cpu())
    run.fail("precision", s.run.precision + " is autocast of the network's forward on CUDA (docs/gpu.md); on the CPU "
                          "scorelab trains in float32 (or run.dtype: float64)");
  if (s.run.precision != "float32")
    run.fail("precision", s.run.precision + ": mixed precision is not implemented yet (docs/gpu.md); use float32");
  s.run.dist_timeout = run.get_double("dist_timeout", s.run.dist_timeout, 1.0, 86400.0 * 7);
}

void parse_train(TrainOptions& t, const Config& train) {
  t.steps = train.get_int("steps", t.steps, 0, 100000000);
  t.batch_size = train.get_int("batch_size", t.batch_size, 1, 1 << 24);
  t.lr = train.get_positive("lr", t.lr);
  t.optimizer = train.get_choice("optimizer", t.optimizer, {"adam", "adamw"});
  t.weight_decay = train.get_double("weight_decay", t.weight_decay, 0.0);
  if (t.optimizer == "adamw" && t.lr * t.weight_decay >= 1)
    train.fail("weight_decay", "AdamW scales the weights by 1 - lr * weight_decay each step: lr * weight_decay must be below 1");
  if (train.has("betas")) {
    const Config::NumberArray b = train.get_array("betas");
    if (b.shape != std::vector<int64_t>{2} || !(b.values[0] >= 0 && b.values[0] < 1) || !(b.values[1] >= 0 && b.values[1] < 1))
      train.fail("betas", "must be two numbers in [0, 1), e.g. [0.9, 0.999]");
    t.beta1 = b.values[0];
    t.beta2 = b.values[1];
  }
  t.eps = train.get_positive("eps", t.eps);
  t.lr_schedule = train.get_choice("lr_schedule", t.lr_schedule, {"constant", "linear_warmup", "cosine", "inverse_sqrt"});
  t.warmup_steps = train.get_int("warmup_steps", t.warmup_steps, 0);
  t.min_lr = train.get_double("min_lr", t.min_lr, 0.0);
  if (t.min_lr > t.lr) train.fail("min_lr", "must not exceed train.lr (" + std::to_string(t.lr) + ")");
  t.lr_decay_steps = train.get_int("lr_decay_steps", t.lr_decay_steps, 1);
  // A schedule key set away from its default where the schedule ignores it (the resolved config
  // lists every key with its value, so only a changed value is an error).
  const TrainOptions defaults;
  auto unused = [&](const char* k, bool changed) {
    if (changed) train.fail(k, "has no effect with lr_schedule: " + t.lr_schedule);
  };
  unused("warmup_steps", t.lr_schedule == "constant" && t.warmup_steps != defaults.warmup_steps);
  unused("min_lr", t.lr_schedule != "cosine" && t.min_lr != defaults.min_lr);
  unused("lr_decay_steps", t.lr_schedule != "inverse_sqrt" && t.lr_decay_steps != defaults.lr_decay_steps);
  t.ema_decay = train.get_double("ema_decay", t.ema_decay, 0.0, 1.0);
  if (train.has("ema_decays")) {
    const Config::NumberArray a = train.get_array("ema_decays");
    if (a.shape.size() != 1) train.fail("ema_decays", "must be a list of decays, e.g. [0.999, 0.9999]");
    for (double d : a.values) {
      if (!(d >= 0 && d < 1)) train.fail("ema_decays", "each decay must be in [0, 1), got " + std::to_string(d));
      if (std::find(t.ema_decays.begin(), t.ema_decays.end(), d) == t.ema_decays.end()) t.ema_decays.push_back(d);
    }
  }
  t.ema_warmup = train.get_bool("ema_warmup", t.ema_warmup);
  t.grad_clip = train.get_double("grad_clip", t.grad_clip, 0.0);  // 0: no clipping
  t.log_every = train.get_int("log_every", t.log_every, 1);
  t.ckpt_every = train.get_int("ckpt_every", t.ckpt_every, 1);
  t.keep_checkpoints = train.get_int("keep_checkpoints", t.keep_checkpoints, 0, 1000000);
  t.resume = train.get_bool("resume", t.resume);
  t.allow_changes = train.get_string_list("allow_changes", t.allow_changes);
  t.on_nonfinite = train.get_choice("on_nonfinite", t.on_nonfinite, {"stop", "skip"});
  t.label_dropout = train.get_double("label_dropout", t.label_dropout, 0.0, 1.0);
  const Config ph = train.at("posthoc_ema");
  t.posthoc_every = ph.get_int("every", t.posthoc_every, 0);
  if (ph.has("sigma_rels")) {
    const Config::NumberArray a = ph.get_array("sigma_rels");
    if (a.shape.size() != 1 || a.values.empty()) ph.fail("sigma_rels", "must be a list of widths, e.g. [0.05, 0.10]");
    t.posthoc_sigma_rels = a.values;
  }
  for (double s : t.posthoc_sigma_rels)
    if (!(s > 0 && s < 0.2886)) ph.fail("sigma_rels", "each width must be in (0, 0.2886) (EDM2's sigma_rel), got " + std::to_string(s));
}

// sample.classes and sample.guidance; `conditional`: the model section asks for class labels.
void parse_sample_labels(SampleOptions& o, const Config& sample, bool conditional, const TrainOptions& train) {
  std::vector<std::string> words = sample.is_list("classes") ? sample.get_string_list("classes", {})
                                                             : std::vector<std::string>{sample.get_string("classes", "auto")};
  if (words.size() == 1 && words[0] == "auto") words[0] = conditional ? "uniform" : "none";
  try {
    o.classes = ClassChoice::parse(words);
  } catch (const std::invalid_argument& e) {
    sample.fail("classes", e.what());
  }
  o.guidance = sample.get_double("guidance", 0.0, -1.0, 1e6);
  o.where = sample.where("");
  if (o.classes.mode != "none" && sample.has("inpaint") && sample.at("inpaint").get_int("particles", 1) > 1)
    sample.fail("inpaint", "particles > 1 (sequential Monte Carlo) run unlabelled sampling only: set classes: none");
  if (conditional && train.label_dropout == 0 && (o.classes.mode == "none" || o.guidance != 0))
    sample.fail(o.guidance != 0 ? "guidance" : "classes",
                "needs the unconditional model, which train.label_dropout: 0 never trains (set label_dropout > 0)");
}

void parse_eval(RunSpec& s, const Config& eval, const MetricRegistry& metrics) {
  EvalOptions& e = s.eval;
  const DataInfo& d = s.data_info;
  e.n = eval.get_int("n", e.n, 2);
  e.projections = eval.get_int("projections", e.projections, 1, 1 << 16);
  e.bootstrap = eval.get_int("bootstrap", e.bootstrap, 0, 10000);
  e.every = eval.get_int("every", e.every, 0);
  e.grid = eval.get_int("grid", e.grid, 1, 4096);
  const bool labelled = d.image() && d.labelled;
  std::string fd = eval.get_choice("fd", d.image() ? "auto" : "false", {"auto", "true", "false"});
  if (fd == "true" && !labelled)
    eval.fail("fd", "the Fréchet distance needs labelled images (a classifier is trained on the labels)");
  e.fd = fd == "true" || (fd == "auto" && labelled);
  std::vector<std::string> names;
  for (const Metric* m : metrics.applicable(d, e.fd, s.sample.classes.mode != "none")) names.push_back(m->name);
  e.headline = eval.get_string("headline", e.fd ? "fd" : "sliced_w2");
  if (std::find(names.begin(), names.end(), e.headline) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    eval.fail("headline", "'" + e.headline + "' is not a metric of this data (available: " + list + ")");
  }
  e.nll = eval.get_choice_list("nll", {}, {"vlb", "ode"});
  for (const auto& k : e.nll)
    if (k == "vlb" && !s.sde->ddpm_chain())
      eval.fail("nll", "vlb (the DDPM variational bound) needs a discrete chain: sde.type: ddpm, not '" +
                           s.sde->name() + "'; use ode for other SDEs");
  e.nll_n = eval.get_int("nll_n", d.image() ? 64 : 1000, 1);
}

void parse_classifier(RunSpec& s, const Config& cfg) {
  if (!s.eval.fd) {
    if (cfg.has("classifier"))
      cfg.fail("classifier", "a classifier is only used for the Fréchet distance of labelled images (eval.fd)");
    return;
  }
  Config c = cfg.at("classifier");
  ClassifierOptions& o = s.classifier;
  o.channels = c.get_int("channels", o.channels, 8, 1024);
  if (o.channels % 8 != 0) c.fail("channels", "must be a multiple of 8 (GroupNorm with 8 groups)");
  o.features = c.get_int("features", o.features, 2, 4096);
  o.steps = c.get_int("steps", o.steps, 1);
  o.batch_size = c.get_int("batch_size", o.batch_size, 2);
  o.lr = c.get_positive("lr", o.lr);
  o.seed = static_cast<uint64_t>(c.get_int("seed", 0, 0));
  o.cache_dir = c.get_string("cache_dir", o.cache_dir);
}

void parse_likelihood(RunSpec& s, const Config& lik) {
  const int64_t dim = s.data_info.dim();
  LikelihoodOptions& o = s.likelihood.ode;
  o.divergence = lik.get_choice("divergence", dim > 64 ? "hutchinson_rademacher" : "exact",
                                {"exact", "hutchinson_gaussian", "hutchinson_rademacher"});
  o.ode.rtol = lik.get_positive("rtol", 1e-5);
  o.ode.atol = lik.get_positive("atol", 1e-5);
  o.eps = lik.get_double("eps", 1e-5, 0.0, 0.5);
  s.likelihood.n = lik.get_int("n", 1000, 1);
  if (o.divergence == "exact" && dim > 64 && lik.has("divergence"))
    lik.fail("divergence", "exact divergence needs " + std::to_string(dim) +
                               " backward passes per ODE step; use hutchinson_gaussian or hutchinson_rademacher");
}

}  // namespace

void check_sample_labels(const SampleOptions& s, const ScoreModel& model) {
  const int64_t k = model.num_classes();
  auto fail = [&](const std::string& key, const std::string& msg) {
    throw ConfigError(s.where + ": sample." + key + ": " + msg);
  };
  if (k == 0 && s.classes.mode != "none")
    fail("classes", "the model takes no class labels (model.class_conditional: true trains one that does)");
  if (k == 0 && s.guidance != 0) fail("guidance", "classifier-free guidance needs a class-conditional model");
  if (s.guidance != 0 && s.classes.mode == "none")
    fail("guidance", "guides towards the classes of sample.classes, which is none");
  for (int64_t c : s.classes.list)
    if (c >= k)
      fail("classes", "class " + std::to_string(c) + ": the model has " + std::to_string(k) + " classes (0.." +
                          std::to_string(k - 1) + ")");
}

RunSpec RunSpec::from(const Config& cfg, const std::string& default_name, const Registries& reg) {
  RunSpec s{cfg};
  // Every section is checked, and every error reported at once; a section whose inputs failed
  // (the model without a data shape or an SDE) is skipped, and unknown keys are listed only
  // when nothing else failed (a skipped section's keys were never read).
  std::vector<std::string> errors;
  auto section = [&](const std::function<void()>& parse) {
    try {
      parse();
      return true;
    } catch (const ConfigError& e) {
      errors.push_back(e.what());
    } catch (const DataError& e) {
      errors.push_back(e.what());
    }
    return false;
  };
  section([&] { parse_run(s, cfg, default_name); });
  section([&] { parse_train(s.train, cfg.at("train")); });
  const bool data_ok = section([&] { s.data_info = *reg.data_info.build(cfg.at("data"), ""); });
  const bool sde_ok = section([&] { s.sde = reg.sde.build(cfg.at("sde"), "vp"); });
  if (data_ok && sde_ok) {
    section([&] { reg.model.check(cfg.at("model"), "mlp", ModelContext{s.sde, s.data_info.shape, s.run.seed, s.data_info.labelled ? s.data_info.classes : 0}); });
    section([&] { reg.loss.check(cfg.at("loss"), "dsm", LossContext{s.sde, s.data_info.shape}); });
  }
  if (sde_ok)
    section([&] {
      if (data_ok) build_sampler(reg, cfg.at("sample"), *s.sde, s.data_info.shape);
      Config sample = cfg.at("sample");
      s.sample.n = sample.get_int("n", s.sample.n, 1);
      s.sample.batch_size = sample.get_int("batch_size", s.sample.batch_size, 0);
      s.sample.use_ema = sample.get_bool("use_ema", s.sample.use_ema);
      s.sample.ema = sample.get_double("ema", s.train.ema_decay, 0.0, 1.0);
      const auto& more = s.train.ema_decays;
      if (s.sample.ema != s.train.ema_decay && std::find(more.begin(), more.end(), s.sample.ema) == more.end()) {
        auto g = [](double d) {
          char b[32];
          std::snprintf(b, sizeof b, "%g", d);
          return std::string(b);
        };
        std::string kept = g(s.train.ema_decay);
        for (double d : more) kept += ", " + g(d);
        sample.fail("ema", "the run keeps no EMA of decay " + g(s.sample.ema) + " (kept: " + kept +
                               "; train.ema_decays lists more)");
      }
      const bool conditional = cfg.at("model").get_bool("class_conditional", false);
      parse_sample_labels(s.sample, sample, conditional, s.train);
      if (!conditional && s.train.label_dropout != TrainOptions{}.label_dropout)
        cfg.at("train").fail("label_dropout", "has no effect: the model is not class-conditional (model.class_conditional)");
    });
  if (data_ok && sde_ok && section([&] { parse_eval(s, cfg.at("eval"), reg.metric); }))
    section([&] { parse_classifier(s, cfg); });
  if (data_ok) section([&] { parse_likelihood(s, cfg.at("likelihood")); });
  if (errors.empty()) section([&] { cfg.check_unused(); });
  if (errors.size() == 1) throw ConfigError(errors[0]);
  if (!errors.empty()) {
    std::string all = std::to_string(errors.size()) + " errors:";
    for (const auto& e : errors) all += "\n  " + e;
    throw ConfigError(all);
  }
  return s;
}

}  // namespace scorelab
