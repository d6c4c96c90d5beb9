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

  explicit Registry(std::string what) : what_(std::move(what)) {}

  void add(const std::string& name, Factory f) {
    if (!factories_.emplace(name, std::move(f)).second)
      throw std::logic_error(what_ + " registry: '" + name + "' registered twice");
  }

  bool contains(const std::string& name) const { return factories_.count(name) > 0; }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : factories_) out.push_back(kv.first);
    return out;
  }

  // Builds from `cfg` (a section with a `type:` key; `default_type` when it has none).
  std::shared_ptr<T> build(const Config& cfg, const std::string& default_type, Args... args) const {
    std::string type = default_type.empty() ? cfg.get_string("type") : cfg.get_string("type", default_type);
    auto it = factories_.find(type);
    if (it == factories_.end()) {
      std::string list;
      for (const auto& kv : factories_) list += (list.empty() ? "" : ", ") + kv.first;
      cfg.fail("type", "unknown " + what_ + " type '" + type + "' (available: " + list + ")");
    }
    return it->second(cfg, std::forward<Args>(args)...);
  }

 private:
  std::string what_;
  std::map<std::string, Factory> factories_;
};

}  // namespace scorelab
