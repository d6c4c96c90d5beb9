// A registry of named factories keyed by the `type:` of a config section. Registration is
// explicit (register_builtin in experiments/registries.cpp), never by static initialisation.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.h"

namespace scorelab {

template <class T, class... Args>
class Registry {
 public:
  using Factory = std::function<std::shared_ptr<T>(const Config&, Args...)>;
  // Validates a section without building (no file read, no memory allocated for weights):
  // reads every key the factory would read. Entries without one are validated by building.
  using Check = std::function<void(const Config&, Args...)>;

  // `key` names the section's key that selects the entry (`type`, or e.g. `weighting`).
  explicit Registry(std::string what, std::string key = "type") : what_(std::move(what)), key_(std::move(key)) {}

  void add(const std::string& name, Factory f, Check check = {}) {
    if (!factories_.emplace(name, std::move(f)).second)
      throw std::logic_error(what_ + " registry: '" + name + "' registered twice");
    if (check) checks_.emplace(name, std::move(check));
  }

  bool contains(const std::string& name) const { return factories_.count(name) > 0; }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : factories_) out.push_back(kv.first);
    return out;
  }

  // Builds from `cfg` (a section with a `type:` key; `default_type` when it has none).
  std::shared_ptr<T> build(const Config& cfg, const std::string& default_type, Args... args) const {
    return find(cfg, default_type)->second(cfg, std::forward<Args>(args)...);
  }

  // Validates `cfg` as build() would, without building where the entry has a Check.
  void check(const Config& cfg, const std::string& default_type, Args... args) const {
    auto it = find(cfg, default_type);
    auto c = checks_.find(it->first);
    if (c != checks_.end())
      c->second(cfg, std::forward<Args>(args)...);
    else
      it->second(cfg, std::forward<Args>(args)...);
  }

 private:
  typename std::map<std::string, Factory>::const_iterator find(const Config& cfg, const std::string& default_type) const {
    std::string type = default_type.empty() ? cfg.get_string(key_) : cfg.get_string(key_, default_type);
    auto it = factories_.find(type);
    if (it == factories_.end()) {
      std::string list;
      for (const auto& kv : factories_) list += (list.empty() ? "" : ", ") + kv.first;
      cfg.fail(key_, "unknown " + what_ + " " + key_ + " '" + type + "' (available: " + list + ")");
    }
    return it;
  }
  std::string what_, key_;
  std::map<std::string, Factory> factories_;
  std::map<std::string, Check> checks_;
};

}  // namespace scorelab
