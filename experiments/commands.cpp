#include "experiments/commands.h"

#include <cmath>
#include <filesystem>
#include <iostream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/checkpoint.h"
#include "core/device.h"
#include "core/distributed.h"
#include "core/error.h"
#include "core/h5log.h"
#include "core/tensor_util.h"
#include "experiments/experiment.h"
#include "experiments/inference.h"
#include "experiments/run_spec.h"
#include "experiments/trainer.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {

// run.threads, or (0) measured on one score evaluation of the batch the command samples.
void set_threads(const Experiment& ex, const ScoreModel& model, int64_t batch) {
  if (ex.run.threads > 0) {
    at::set_num_threads(static_cast<int>(ex.run.threads));
    return;
  }
  choose_sampling_threads(ex, model, batch);
}

}  // namespace

int command_train(const std::string& config_path, const std::vector<std::string>& overrides) {
  Config cfg = Config::load_file(config_path, overrides);
  Experiment ex = build_experiment(cfg, fs::path(config_path).stem().string());
  DistEnv env;
  try {
    env = DistEnv::from_environment();  // torchrun's or Slurm's variables (core/distributed.h)
  } catch (const std::invalid_argument& e) {
    throw DataError(e.what());
  }
  if (env.world > 1)
    set_process_group(std::make_unique<ProcessGroup>(
        env, std::chrono::milliseconds(static_cast<int64_t>(ex.run.dist_timeout * 1000))));
  TrainSummary s = train(ex);
  if (s.stopped_signal) return 128 + s.stopped_signal;
  return s.stopped_nonfinite ? kExitNonFinite : 0;
}

int check_train(const std::string& config_path, const std::vector<std::string>& overrides, bool quiet) {
  Config cfg = Config::load_file(config_path, overrides);
  RunSpec spec = RunSpec::from(cfg, fs::path(config_path).stem().string());
  if (quiet) return 0;
  std::cout << "ok: " << config_path << ": a valid run '" << spec.run.name << "' (nothing run)\n";
  return 0;
}

namespace {
// `-o FILE` names a file the user chose: never replaced without --force (checked before any work).
void refuse_overwrite(const std::string& out, bool force) {
  if (!out.empty() && !force && fs::exists(out))
    throw DataError(out + ": exists; pass --force to overwrite it, or choose another -o");
  // The directory it goes in may be created, but not below a file.
  for (fs::path p = fs::path(out).parent_path(); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p)) {
      if (!fs::is_directory(p)) throw DataError(out + ": " + p.string() + " is a file, not a directory; choose another -o");
      break;
    }
    if (p == p.parent_path()) break;
  }
}
}  // namespace

int check_inference(const std::string& source, const std::vector<std::string>& overrides, const std::string& out,
                    bool force) {
  refuse_overwrite(out, force);
  load_for_inference(source, overrides);
  std::cout << "ok: " << source << " loads with its config and these overrides (nothing run)\n";
  return 0;
}

int command_sample(const std::string& source, const std::vector<std::string>& overrides, std::string out,
                   bool force) {
  refuse_overwrite(out, force);
  Loaded l = load_for_inference(source, overrides);
  if (out.empty()) out = l.default_dir + "/samples.h5";
  fs::create_directories(fs::path(out).parent_path().empty() ? "." : fs::path(out).parent_path());
  set_threads(l.ex, *l.model, l.ex.sample.batch_size > 0 ? l.ex.sample.batch_size : l.ex.sample.n);
  SampleResult r = draw_samples(l.ex, *l.model, l.ex.sample.n, l.ex.run.seed, "sample");
  AttrMap attrs = l.ex.cfg.resolved_leaves("sample");
  attrs["source"] = source;
  attrs["model"] = l.model->module() ? (l.ex.sample.use_ema ? "ema" : "raw") : "oracle";
  attrs["config"] = l.ex.cfg.resolved_yaml();
  std::map<std::string, double> nums{{"seed", static_cast<double>(l.ex.run.seed)},
                                     {"nfe", static_cast<double>(r.nfe)},
                                     {"step", static_cast<double>(l.step)},
                                     {"seconds", r.seconds},
                                     {"threads", static_cast<double>(at::get_num_threads())}};
  for (const auto& [k, v] : r.stats) nums[k] = v;
  TableFile f(out);
  f.array("samples", r.x, attrs, nums);
  if (r.labels.defined())  // the class each sample was drawn given (sample.classes)
    f.array("labels", r.labels, {}, {{"guidance", l.ex.sample.guidance}});
  f.commit();
  std::cout << "wrote " << r.x.size(0) << " samples to " << out << " (nfe " << r.nfe << ", " << r.seconds << " s, "
            << at::get_num_threads() << " threads)\n";
  return 0;
}

int command_likelihood(const std::string& source, const std::vector<std::string>& overrides, std::string out,
                       bool force) {
  refuse_overwrite(out, force);
  Loaded l = load_for_inference(source, overrides);
  if (out.empty()) out = l.default_dir + "/likelihood.h5";
  fs::create_directories(fs::path(out).parent_path().empty() ? "." : fs::path(out).parent_path());
  set_threads(l.ex, *l.model, std::min<int64_t>(l.ex.likelihood.n, 4096));
  const Experiment& ex = l.ex;
  at::Generator gen = make_generator(ex.run.seed + 7919);  // the evaluation data of the run
  at::Tensor x = ex.data->batch(ex.likelihood.n, gen).to(ex.device, ex.run.dtype);
  NoiseSource noise = NoiseSource::range(ex.run.seed, 0, x.size(0), ex.device);
  LikelihoodResult r = ode_log_likelihood(*l.model, x, ex.likelihood.ode, noise);
  int64_t dims = x[0].numel();
  double nll = -r.log_p.mean().item<double>();
  double se = r.log_p.std().item<double>() / std::sqrt(static_cast<double>(x.size(0)));
  double bpd = bits_per_dim(-nll, dims);
  AttrMap attrs{{"source", source},
                {"divergence", ex.likelihood.ode.divergence},
                {"config", ex.cfg.resolved_yaml()},
                {"note", "log p_eps(x) in nats via the probability-flow ODE (RK45); bpd_8bit = bpd + 7 applies "
                         "to data mapped from [0, 256) to [-1, 1]"}};
  write_h5_file(out, "log_p", r.log_p, attrs,
                {{"nll_nats", nll}, {"nll_se", se}, {"bpd", bpd}, {"bpd_8bit", bpd + 7.0},
                 {"rtol", ex.likelihood.ode.ode.rtol}, {"atol", ex.likelihood.ode.ode.atol},
                 {"eps", ex.likelihood.ode.eps}, {"nfe", static_cast<double>(r.nfe)},
                 {"accepted_steps", static_cast<double>(r.stats.accepted)},
                 {"rejected_steps", static_cast<double>(r.stats.rejected)},
                 {"n", static_cast<double>(x.size(0))}, {"seed", static_cast<double>(ex.run.seed)},
                 {"step", static_cast<double>(l.step)}});
  std::printf("NLL %.4f +- %.4f nats (%.4f bits/dim) over %ld points, nfe %ld -> %s\n", nll, se, bpd,
              static_cast<long>(x.size(0)), static_cast<long>(r.nfe), out.c_str());
  return 0;
}

}  // namespace scorelab
