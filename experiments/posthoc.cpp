#include "experiments/posthoc.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>
#include <yaml-cpp/yaml.h>

#include "core/checkpoint.h"
#include "core/error.h"
#include "experiments/experiment.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {
struct Snapshot {
  int64_t step = 0;
  std::vector<double> sigma_rels, gammas;
  std::vector<at::Tensor> flats;
};

Snapshot read_snapshot(const std::string& path) {
  Snapshot s;
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    c10::IValue v;
    ar.read("step", v);
    s.step = v.toInt();
    at::Tensor sr, g;
    ar.read("sigma_rels", sr);
    ar.read("gammas", g);
    for (int64_t i = 0; i < g.numel(); ++i) {
      s.sigma_rels.push_back(sr[i].item<double>());
      s.gammas.push_back(g[i].item<double>());
      at::Tensor f;
      ar.read("ema" + std::to_string(i), f);
      s.flats.push_back(f);
    }
  } catch (const c10::Error& e) {
    throw DataError(path + ": not a readable EMA snapshot (" + e.what_without_backtrace() + ")");
  }
  return s;
}

std::string format(const char* fmt, double v) {
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}
}  // namespace

PosthocResult posthoc_ema_checkpoint(const std::string& run_in, double sigma_rel, std::string out, bool force,
                                     bool check) {
  // A run directory, or a checkpoint in its checkpoints/ directory.
  fs::path run = run_in;
  if (fs::is_regular_file(run) && run.parent_path().filename() == "checkpoints") run = run.parent_path().parent_path();
  PosthocResult r;
  try {
    r.gamma = gamma_of_sigma_rel(sigma_rel);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("--sigma-rel: ") + e.what());
  }
  std::vector<std::string> files;
  if (fs::is_directory(run / "ema_snapshots"))
    for (const auto& f : fs::directory_iterator(run / "ema_snapshots")) {
      const std::string name = f.path().filename().string();
      if (name.rfind("step_", 0) == 0 && f.path().extension() == ".pt") files.push_back(f.path().string());
    }
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw DataError(run.string() + ": no ema_snapshots/step_*.pt (train the run with train.posthoc_ema.every > 0)");
  const std::string last = (run / "checkpoints" / "last.pt").string();
  if (!fs::exists(last)) throw DataError(last + ": no such checkpoint");
  if (out.empty()) out = (run / "checkpoints" / ("ema_sigma" + format("%.3f", sigma_rel) + ".pt")).string();
  if (fs::exists(out) && !force) throw ConfigError(out + ": exists; pass --force to replace it, or choose another -o");
  r.out = out;

  std::vector<Snapshot> snaps;
  for (const auto& f : files) snaps.push_back(read_snapshot(f));
  std::vector<double> t, g;
  for (const auto& s : snaps)
    for (size_t i = 0; i < s.gammas.size(); ++i) {
      t.push_back(static_cast<double>(s.step));
      g.push_back(s.gammas[i]);
      r.basis.emplace_back(s.step, s.sigma_rels[i]);
    }
  r.step = snaps.back().step;
  r.fit = posthoc_ema_fit(t, g, static_cast<double>(r.step), r.gamma);

  // The model of the run's last checkpoint; its EMA weights replaced by the reconstruction.
  CheckpointMeta meta = load_checkpoint(last, nullptr, nullptr, nullptr);
  YAML::Node cfg = YAML::Load(meta.config_yaml);
  if (cfg["sample"] && cfg["train"] && cfg["train"]["ema_decay"]) cfg["sample"]["ema"] = cfg["train"]["ema_decay"];
  YAML::Emitter em;
  em << cfg;
  meta.config_yaml = std::string(em.c_str()) + "\n";  // sampling it uses the main EMA: the reconstruction
  Experiment ex = build_experiment(Config::from_string(meta.config_yaml, last + ":config"), "ema");
  auto model = ex.make_model();
  std::vector<at::Tensor> shadow;
  load_checkpoint(last, model->module(), &shadow, nullptr);
  at::Tensor acc;
  size_t k = 0;
  for (const auto& s : snaps)
    for (const auto& f : s.flats) {
      at::Tensor term = f.to(at::kDouble) * r.fit.weights[k++];
      acc = acc.defined() ? acc + term : term;
    }
  int64_t at = 0;
  for (auto& p : shadow) {
    if (at + p.numel() > acc.numel()) throw DataError(files.back() + ": the EMA snapshots do not fit the model");
    p = acc.narrow(0, at, p.numel()).view(p.sizes()).to(p.scalar_type());
    at += p.numel();
  }
  if (at != acc.numel()) throw DataError(files.back() + ": the EMA snapshots do not fit the model");
  meta.more_ema.clear();
  meta.posthoc_ema.clear();
  if (!check) {
    fs::create_directories(fs::path(out).parent_path().empty() ? "." : fs::path(out).parent_path());
    save_checkpoint(out, *model->module(), shadow, nullptr, meta);
  }
  return r;
}

int command_ema(const std::string& run_dir, double sigma_rel, const std::string& out, bool force, bool check) {
  PosthocResult r = posthoc_ema_checkpoint(run_dir, sigma_rel, out, force, check);
  std::cout << "post-hoc EMA sigma_rel " << sigma_rel << " (gamma " << format("%.3g", r.gamma) << ") at step " << r.step
            << " from " << r.basis.size() << " stored EMAs: profile error " << format("%.2g", 100 * r.fit.rel_error)
            << "%\n";
  for (size_t i = 0; i < r.basis.size(); ++i)
    if (std::abs(r.fit.weights[i]) > 1e-3)
      std::cout << "  step " << r.basis[i].first << ", sigma_rel " << r.basis[i].second << ": weight "
                << format("%.4f", r.fit.weights[i]) << "\n";
  std::cout << (check ? "ok: would write " : "wrote ") << r.out << "\n";
  return 0;
}

}  // namespace scorelab
