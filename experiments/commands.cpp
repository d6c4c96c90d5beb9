#include "experiments/commands.h"

#include <filesystem>
#include <iostream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/checkpoint.h"
#include "core/h5log.h"
#include "experiments/experiment.h"
#include "experiments/plot.h"
#include "experiments/trainer.h"

namespace scorelab {
namespace fs = std::filesystem;

int command_train(const std::string& config_path, const std::vector<std::string>& overrides) {
  Config cfg = Config::load_file(config_path, overrides);
  Experiment ex = build_experiment(cfg, fs::path(config_path).stem().string());
  train(ex);
  return 0;
}

int command_sample(const std::string& checkpoint, const std::vector<std::string>& overrides, std::string out) {
  CheckpointMeta meta;
  try {
    meta = load_checkpoint(checkpoint, nullptr, nullptr, nullptr);
  } catch (const std::runtime_error& e) {
    throw DataError(e.what());
  }
  Config cfg = Config::from_string(meta.config_yaml, checkpoint + ":config", overrides);
  Experiment ex = build_experiment(cfg, "sample");
  if (out.empty()) out = (fs::path(checkpoint).parent_path().parent_path() / "samples.h5").string();

  std::shared_ptr<ScoreModel> model = ex.make_model();
  torch::nn::Module& net = *model->module();
  std::vector<at::Tensor> shadow;
  load_checkpoint(checkpoint, &net, &shadow, nullptr);
  net.to(ex.device, ex.run.dtype);
  if (ex.sample.use_ema) {
    torch::NoGradGuard no_grad;
    auto params = net.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(shadow.at(i));
  }
  net.eval();
  if (ex.run.threads > 0) at::set_num_threads(static_cast<int>(ex.run.threads));
  SampleResult r = draw_samples(ex, *model, ex.sample.n, ex.run.seed, "sample");
  AttrMap attrs = ex.sampler->settings();
  attrs["checkpoint"] = checkpoint;
  attrs["model"] = ex.sample.use_ema ? "ema" : "raw";
  attrs["config"] = cfg.resolved_yaml();
  write_h5_file(out, "samples", r.x, attrs,
                {{"seed", static_cast<double>(ex.run.seed)}, {"nfe", static_cast<double>(r.nfe)},
                 {"step", static_cast<double>(meta.step)}, {"seconds", r.seconds}});
  std::cout << "wrote " << r.x.size(0) << " samples to " << out << " (nfe " << r.nfe << ", " << r.seconds << " s)\n";
  return 0;
}

}  // namespace scorelab
