#include "experiments/resume_changes.h"

#include <charconv>
#include <cstdlib>
#include <map>

#include "core/config.h"

namespace scorelab {

namespace {
// `key` is `entry` or lies in section `entry`.
bool covers(const std::string& entry, const std::string& key) {
  return key == entry || (key.size() > entry.size() && key.compare(0, entry.size(), entry) == 0 && key[entry.size()] == '.');
}
}  // namespace

namespace {
// A number in its shortest round-trip form ("0.003", not "0.0030000000000000001"); other text as is.
std::string shortest(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return text;
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
}  // namespace

std::vector<ConfigChange> config_changes(const std::string& recorded_yaml, const std::string& current_yaml) {
  const std::map<std::string, std::string> was = Config::yaml_leaves(recorded_yaml), now = Config::yaml_leaves(current_yaml);
  std::vector<ConfigChange> out;
  for (const auto& [key, value] : now) {
    auto it = was.find(key);
    if (it == was.end()) continue;
    const std::string from = shortest(it->second), to = shortest(value);
    if (from != to) out.push_back({key, from, to});
  }
  return out;
}

bool is_run_control_key(const std::string& key) {
  for (const char* k : {"run.name", "run.out_dir", "run.threads", "run.device", "run.dist_timeout", "train.steps", "train.resume",
                        "train.allow_changes", "train.log_every", "train.ckpt_every", "train.keep_checkpoints",
                        "train.on_nonfinite", "data.prefetch", "eval", "sample"})
    if (covers(k, key)) return true;
  return false;
}

void check_allow_changes(const Config& cfg, const std::vector<std::string>& allowed) {
  const std::map<std::string, std::string> keys = Config::yaml_leaves(cfg.resolved_yaml());
  std::string unknown;
  for (const auto& entry : allowed) {
    bool known = false;
    for (const auto& kv : keys) known = known || covers(entry, kv.first);
    if (!known) unknown += (unknown.empty() ? "'" : ", '") + entry + "'";
  }
  if (!unknown.empty()) cfg.fail("train.allow_changes", unknown + ": no key or section of this config");
}

std::string check_resume_changes(const Config& cfg, const std::vector<std::string>& allowed,
                                 const std::string& recorded_yaml, int64_t step) {
  check_allow_changes(cfg, allowed);
  std::string problems, first_key;
  std::string amendments;
  for (const auto& c : config_changes(recorded_yaml, cfg.resolved_yaml())) {
    bool ok = is_run_control_key(c.key);
    for (const auto& entry : allowed) ok = ok || covers(entry, c.key);
    if (!ok) {
      problems += "\n  " + cfg.where(c.key) + ": " + c.key + ": " + c.from + " -> " + c.to;
      if (first_key.empty()) first_key = c.key;
    }
    amendments += "- {step: " + std::to_string(step) + ", key: " + c.key + ", from: '" + c.from + "', to: '" + c.to + "'}\n";
  }
  if (!first_key.empty())
    cfg.fail(first_key, "resuming from the checkpoint at step " + std::to_string(step) +
                            " would change the run's hyper-parameters:" + problems +
                            "\nResume with the recorded values, start a new run (another run.name), or list the keys "
                            "in train.allow_changes (e.g. train.allow_changes=[" + first_key +
                            "]) to resume with them; the change is then recorded in log.h5's 'amendments' attribute");
  return amendments;
}

}  // namespace scorelab
