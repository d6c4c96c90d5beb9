// Experiment configuration: a YAML tree plus `key.path=value` overrides, read through typed
// getters that validate as they go. Every key read is recorded, so after all components are
// built `check_unused()` reports any key nobody asked for (a typo) with its file and line.
// Defaults are written into a resolved copy, which is what runs store next to their results.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/error.h"

namespace scorelab {

class Config {
 public:
  // Loads `path` and applies `overrides` ("a.b.c=value", value parsed as YAML).
  // Throws ConfigError "file:line: message" on a parse error or a malformed override.
  static Config load_file(const std::string& path, const std::vector<std::string>& overrides = {});
  static Config from_string(const std::string& yaml, const std::string& source = "<string>",
                            const std::vector<std::string>& overrides = {});

  // Lists of sections are addressed by index: at("samplers.0"); list_size("samplers").
  int64_t list_size(const std::string& key) const;  // 0 when absent; error if not a list
  std::vector<std::string> keys(const std::string& key = "") const;  // keys of a section
  // A value as YAML text (a scalar as written, a list in flow style), marking it read.
  std::string get_text(const std::string& key) const;
  bool is_list(const std::string& key) const;

  // A view of a sub-section ("model", "sampler.corrector"); it may be absent.
  Config at(const std::string& key) const;
  bool has(const std::string& key) const;
  std::string path(const std::string& key = "") const;  // full key path, e.g. "model.hidden"

  static constexpr int64_t kIntMin = std::numeric_limits<int64_t>::min();
  static constexpr int64_t kIntMax = std::numeric_limits<int64_t>::max();
  static constexpr double kInf = std::numeric_limits<double>::infinity();

  int64_t get_int(const std::string& key, int64_t def, int64_t lo = kIntMin, int64_t hi = kIntMax) const;
  int64_t get_int(const std::string& key) const;  // required
  double get_double(const std::string& key, double def, double lo = -kInf, double hi = kInf) const;
  double get_positive(const std::string& key, double def) const;  // > 0
  bool get_bool(const std::string& key, bool def) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  std::string get_string(const std::string& key) const;  // required
  std::string get_choice(const std::string& key, const std::string& def,
                         const std::vector<std::string>& choices) const;
  std::vector<int64_t> get_int_list(const std::string& key, const std::vector<int64_t>& def) const;
  // A list whose entries must each be one of `choices`.
  std::vector<std::string> get_choice_list(const std::string& key, const std::vector<std::string>& def,
                                           const std::vector<std::string>& choices) const;
  std::vector<std::string> get_string_list(const std::string& key, const std::vector<std::string>& def) const;
  // A rectangular nested list of numbers (a scalar, a vector, a matrix, ...), row-major.
  struct NumberArray {
    std::vector<double> values;
    std::vector<int64_t> shape;
  };
  NumberArray get_array(const std::string& key) const;  // required

  // "file:line: key.path: message" for `key` in this section (or the section itself).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  std::string where(const std::string& key) const;  // "file:line"

  // Throws ConfigError naming every key that no getter read.
  void check_unused() const;
  // The resolved values of one section (every key read, defaults filled in) as "a.b" -> text:
  // the provenance a component records (e.g. the sampler's settings next to its samples).
  std::map<std::string, std::string> resolved_leaves(const std::string& key = "") const;
  // The resolved configuration (every key read, defaults filled in) as YAML text.
  std::string resolved_yaml() const;
  // The leaves of a YAML document as "a.b" -> text (lists in flow style), e.g. of the resolved
  // config a checkpoint recorded.
  static std::map<std::string, std::string> yaml_leaves(const std::string& yaml);
  // The file (or "<checkpoint>", "<string>") this configuration was read from.
  const std::string& source() const;

 private:
  struct State;
  Config(std::shared_ptr<State> s, std::string prefix);
  YAML::Node lookup(const std::string& key) const;  // undefined node if absent
  void record(const std::string& key, const YAML::Node& value) const;
  std::string join(const std::string& key) const;

  std::shared_ptr<State> s_;
  std::string prefix_;
};

// Splits "a.b.c" into {"a","b","c"}.
std::vector<std::string> split_key_path(const std::string& path);

}  // namespace scorelab
