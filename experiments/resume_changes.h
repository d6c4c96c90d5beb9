// What a resume may change. The checkpoint records the resolved config of the run that wrote it;
// a resume with other hyper-parameters would silently make a different run under the same name.
// So a resume compares the two: keys that only steer the run (how long, where, how often it logs
// and checkpoints, threads, evaluation, sampling) may change freely; any other change is refused
// unless train.allow_changes lists the key (or its section), and is then recorded as an
// amendment in log.h5 — the recorded config is never rewritten.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace scorelab {

class Config;

struct ConfigChange {
  std::string key, from, to;  // values as YAML text; "(absent)" where a side lacks the key
};

// Leaves that differ between two resolved configs (keys on one side only are left out: a key a
// newer version added carries its default, one it dropped is gone). Numbers compare by value
// and are shown in their shortest form.
std::vector<ConfigChange> config_changes(const std::string& recorded_yaml, const std::string& current_yaml);

// run.name/out_dir/threads/device, train.steps/resume/allow_changes/log_every/ckpt_every/
// keep_checkpoints/on_nonfinite, data.prefetch, eval.*, sample.*.
bool is_run_control_key(const std::string& key);

// Throws ConfigError naming every entry of train.allow_changes that is no key or section of
// `cfg` (resolved).
void check_allow_changes(const Config& cfg, const std::vector<std::string>& allowed);

// Checks `cfg` (resolved) against the config recorded at checkpoint step `step`: throws
// ConfigError naming every hyper-parameter changed without train.allow_changes (and every entry
// of train.allow_changes that is no key of the config); returns the amendments to record (YAML
// list entries, one per changed key, run-control keys included), empty if nothing changed.
std::string check_resume_changes(const Config& cfg, const std::vector<std::string>& allowed,
                                 const std::string& recorded_yaml, int64_t step);

}  // namespace scorelab
