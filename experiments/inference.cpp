#include "experiments/inference.h"

#include <filesystem>

#include <ATen/ATen.h>

#include "core/checkpoint.h"
#include "core/fsutil.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {
bool is_config_file(const std::string& path) {
  auto ext = fs::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

Loaded load_for_inference(const std::string& source, const std::vector<std::string>& overrides,
                          const Registries& reg) {
  if (is_config_file(source)) {
    Config cfg = Config::load_file(source, overrides);
    Loaded l{build_experiment(cfg, fs::path(source).stem().string(), reg)};
    l.config_text = read_text(source);
    l.config_source = source;
    l.model = l.ex.make_model();
    if (l.model->module())
      throw ConfigError(source + ": model." + "type is a trainable network; pass its checkpoint instead of the config");
    l.default_dir = l.ex.run_dir();
    return l;
  }
  CheckpointMeta meta;
  try {
    meta = load_checkpoint(source, nullptr, nullptr, nullptr);
  } catch (const std::runtime_error& e) {
    throw DataError(e.what());
  }
  Config cfg = Config::from_string(meta.config_yaml, source + ":config", overrides);
  Loaded l{build_experiment(cfg, "sample", reg)};
  l.config_text = meta.config_yaml;
  l.config_source = source + ":config";
  l.step = meta.step;
  l.model = l.ex.make_model();
  torch::nn::Module& net = *l.model->module();
  std::vector<at::Tensor> shadow;
  load_checkpoint(source, &net, &shadow, nullptr);
  net.to(l.ex.device, l.ex.run.dtype);
  if (l.ex.sample.use_ema) {
    torch::NoGradGuard no_grad;
    auto params = net.parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(shadow.at(i));
  }
  net.eval();
  l.default_dir = fs::path(source).parent_path().parent_path().string();
  return l;
}


}  // namespace scorelab
