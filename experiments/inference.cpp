#include "experiments/inference.h"

#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <yaml-cpp/yaml.h>

#include "core/checkpoint.h"
#include "core/fsutil.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {
bool is_config_file(const std::string& path) {
  auto ext = fs::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

// `sample.type=X` or `sample.method=Y` naming another sampler than the checkpoint's starts its
// sample section afresh: the checkpoint's n, batch_size, use_ema, classes and guidance are kept, the other keys
// belonged to the old sampler (EM's `steps` is not a key of RK45, Heun should not inherit
// EM's 500 steps); the new sampler's defaults apply, then the command line.
std::string switch_sampler(const std::string& yaml, const std::vector<std::string>& overrides) {
  YAML::Node root = YAML::Load(yaml);
  YAML::Node s = root["sample"];
  if (!s || !s.IsMap()) return yaml;
  bool switched = false;
  for (const auto& o : overrides)
    for (const std::string key : {"type", "method"}) {
      const std::string prefix = "sample." + key + "=";
      if (o.rfind(prefix, 0) != 0) continue;
      YAML::Node given = YAML::Load(o.substr(prefix.size()));
      if (!s[key] || !given.IsScalar() || s[key].Scalar() != given.Scalar()) switched = true;
    }
  if (!switched) return yaml;
  YAML::Node fresh(YAML::NodeType::Map);
  for (const char* key : {"type", "n", "batch_size", "use_ema", "ema", "classes", "guidance"})
    if (s[key]) fresh[key] = s[key];
  root["sample"] = fresh;
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

// The stored weights of the EMA of decay `decay` among a checkpoint's more_ema.
at::Tensor more_ema_weights(const std::vector<at::Tensor>& more, double decay, const std::string& source) {
  if (!more.empty())
    for (int64_t i = 0; i < more[0].numel(); ++i)
      if (more[0][i].item<double>() == decay) return more.at(static_cast<size_t>(i) + 1);
  throw DataError(source + ": holds no EMA of decay " + std::to_string(decay) +
                  " (a checkpoint written before train.ema_decays listed it)");
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
    check_sample_labels(l.ex.sample, *l.model);
    l.default_dir = l.ex.run_dir();
    return l;
  }
  CheckpointMeta meta;
  try {
    meta = load_checkpoint(source, nullptr, nullptr, nullptr);
  } catch (const std::runtime_error& e) {
    throw DataError(e.what());
  }
  Config cfg = Config::from_string(switch_sampler(meta.config_yaml, overrides), source + ":config", overrides);
  Loaded l{build_experiment(cfg, "sample", reg)};
  l.config_text = meta.config_yaml;
  l.config_source = source + ":config";
  l.step = meta.step;
  l.model = l.ex.make_model();
  check_sample_labels(l.ex.sample, *l.model);
  torch::nn::Module& net = *l.model->module();
  std::vector<at::Tensor> shadow;
  load_checkpoint(source, &net, &shadow, nullptr);
  net.to(l.ex.device, l.ex.run.dtype);
  if (l.ex.sample.use_ema) {
    torch::NoGradGuard no_grad;
    auto params = net.parameters();
    if (l.ex.sample.ema == l.ex.train.ema_decay) {
      for (size_t i = 0; i < params.size(); ++i) params[i].copy_(shadow.at(i));
    } else {
      // One of train.ema_decays: its flat buffer, in the order of the parameters.
      const at::Tensor flat = more_ema_weights(meta.more_ema, l.ex.sample.ema, source);
      int64_t at = 0;
      for (auto& p : params) {
        p.copy_(flat.narrow(0, at, p.numel()).view(p.sizes()));
        at += p.numel();
      }
      TORCH_CHECK(at == flat.numel(), source, ": the EMA of decay ", l.ex.sample.ema, " has another size than the model");
    }
  }
  net.eval();
  // runs/<name>/checkpoints/last.pt -> runs/<name>; a checkpoint anywhere else -> its own directory.
  const fs::path dir = fs::path(source).parent_path();
  l.default_dir = (dir.filename() == "checkpoints" ? dir.parent_path() : dir).string();
  if (l.default_dir.empty()) l.default_dir = ".";
  return l;
}


}  // namespace scorelab
