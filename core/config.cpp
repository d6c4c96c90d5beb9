#include "core/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

namespace scorelab {

struct Config::State {
  std::string file;
  YAML::Node root;
  YAML::Node resolved;
  std::set<std::string> used;                    // leaf keys read by a getter
  std::set<std::string> sections;                // sections opened with at()
  std::map<std::string, std::string> overrides;  // key path -> "key=value" as typed
};

std::vector<std::string> split_key_path(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '.') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

namespace {

bool valid_key_path(const std::string& key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
              (c == '.' && key[i + 1] != '.');
    if (!ok) return false;
  }
  return true;
}

// Walks `root` along `parts`, creating mappings as needed, and stores `value` at the end.
// Returns the first prefix that exists but is not a mapping, or "" on success.
std::string set_path(YAML::Node root, const std::vector<std::string>& parts, const YAML::Node& value) {
  YAML::Node cur;
  cur.reset(root);
  std::string walked;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += (walked.empty() ? "" : ".") + parts[i];
    YAML::Node child = cur[parts[i]];
    if (!child.IsDefined() || child.IsNull()) {
      cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child.reset(cur[parts[i]]);
    } else if (!child.IsMap()) {
      return walked;
    }
    cur.reset(child);
  }
  cur[parts.back()] = value;
  return "";
}

std::string fmt_num(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string scalar_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

// Every leaf below `root` as "a.b" -> text.
std::map<std::string, std::string> leaves(const YAML::Node& root) {
  std::map<std::string, std::string> out;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node, const std::string& p) {
    if (node.IsMap()) {
      for (const auto& kv : node) walk(kv.second, (p.empty() ? "" : p + ".") + kv.first.as<std::string>());
    } else {
      out[p] = scalar_text(node);
    }
  };
  walk(root, "");
  return out;
}

// YAML maps keep a repeated key twice and lookups see the first: a repeated key is refused.
// So is a key that is not a plain scalar (YAML's `? ` complex keys: a list or map as a key).
void check_duplicate_keys(const YAML::Node& node, const std::string& path, const std::string& source) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) check_duplicate_keys(node[i], path + "." + std::to_string(i), source);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> seen;  // key -> line
  for (const auto& kv : node) {
    const int line = kv.first.Mark().line + 1;
    if (!kv.first.IsScalar())
      throw ConfigError(source + ":" + std::to_string(line) + ": " + (path.empty() ? "(top level)" : path) +
                        ": a key must be a plain name, not a list or a map");
    const std::string key = kv.first.Scalar(), full = path.empty() ? key : path + "." + key;
    auto [it, fresh] = seen.emplace(key, line);
    if (!fresh)
      throw ConfigError(source + ":" + std::to_string(line) + ": " + full + ": duplicate key (first at line " +
                        std::to_string(it->second) + ")");
    check_duplicate_keys(kv.second, full, source);
  }
}

}  // namespace

Config::Config(std::shared_ptr<State> s, std::string prefix) : s_(std::move(s)), prefix_(std::move(prefix)) {}

Config Config::from_string(const std::string& yaml, const std::string& source,
                           const std::vector<std::string>& overrides) {
  auto s = std::make_shared<State>();
  s->file = source;
  try {
    s->root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ": YAML parse error: " + e.msg);
  }
  if (!s->root.IsDefined() || s->root.IsNull()) s->root = YAML::Node(YAML::NodeType::Map);
  if (!s->root.IsMap()) throw ConfigError(source + ":1: the top level must be a mapping of sections");
  check_duplicate_keys(s->root, "", source);
  s->resolved = YAML::Node(YAML::NodeType::Map);

  for (const auto& ov : overrides) {
    auto eq = ov.find('=');
    std::string key = eq == std::string::npos ? ov : ov.substr(0, eq);
    if (eq == std::string::npos || !valid_key_path(key))
      throw ConfigError("<command line>: '" + ov + "': an override is key.path=value");
    YAML::Node value;
    try {
      value = YAML::Load(ov.substr(eq + 1));
    } catch (const YAML::ParserException& e) {
      throw ConfigError("<command line>: " + key + ": cannot parse value: " + e.msg);
    }
    if (!value.IsDefined() || value.IsNull()) value = YAML::Node(std::string());
    std::string bad = set_path(s->root, split_key_path(key), value);
    if (!bad.empty())
      throw ConfigError("<command line>: " + key + ": '" + bad + "' is a value, not a section");
    s->overrides[key] = ov;
  }
  return Config(s, "");
}

Config Config::load_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open config file");
  std::stringstream buf;
  buf << in.rdbuf();
  return from_string(buf.str(), path, overrides);
}

std::string Config::join(const std::string& key) const {
  if (key.empty()) return prefix_;
  return prefix_.empty() ? key : prefix_ + "." + key;
}

std::string Config::path(const std::string& key) const { return join(key); }
const std::string& Config::source() const { return s_->file; }

YAML::Node Config::lookup(const std::string& key) const {
  YAML::Node cur;
  cur.reset(s_->root);
  std::string full = join(key);
  if (full.empty()) return cur;
  for (const auto& part : split_key_path(full)) {
    const YAML::Node& c = cur;
    if (cur.IsSequence() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      size_t i = std::stoul(part);
      if (i >= cur.size()) return YAML::Node(YAML::NodeType::Undefined);
      YAML::Node child = c[i];
      cur.reset(child);
      continue;
    }
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node child = c[part];
    if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    cur.reset(child);
  }
  return cur;
}

std::string Config::where(const std::string& key) const {
  std::string full = join(key);
  // A value that came from the command line is reported as such.
  for (const auto& [k, text] : s_->overrides) {
    if (full == k || full.rfind(k + ".", 0) == 0 || k.rfind(full + ".", 0) == 0) return "<command line>";
  }
  // Otherwise the line of the deepest key on the path that exists.
  YAML::Node cur;
  cur.reset(s_->root);
  int line = -1;
  if (!full.empty()) {
    for (const auto& part : split_key_path(full)) {
      if (cur.IsSequence() && !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit) &&
          std::stoul(part) < cur.size()) {
        YAML::Node e;
        e.reset(cur[std::stoul(part)]);
        line = e.Mark().line;
        cur.reset(e);
        continue;
      }
      if (!cur.IsMap()) break;
      bool found = false;
      for (const auto& kv : cur) {
        if (kv.first.IsScalar() && kv.first.Scalar() == part) {
          line = kv.first.Mark().line;
          cur.reset(kv.second);
          found = true;
          break;
        }
      }
      if (!found) break;
    }
  }
  if (line < 0) return s_->file;
  return s_->file + ":" + std::to_string(line + 1);
}

void Config::fail(const std::string& key, const std::string& message) const {
  std::string p = join(key);
  throw ConfigError(where(key) + ": " + (p.empty() ? "" : p + ": ") + message);
}

int64_t Config::list_size(const std::string& key) const {
  YAML::Node n = lookup(key);
  if (!n.IsDefined() || n.IsNull()) return 0;
  if (!n.IsSequence()) fail(key, "expected a list");
  s_->sections.insert(join(key));
  return static_cast<int64_t>(n.size());
}

bool Config::is_list(const std::string& key) const { return lookup(key).IsSequence(); }

std::vector<std::string> Config::keys(const std::string& key) const {
  YAML::Node n = lookup(key);
  std::vector<std::string> out;
  if (n.IsMap())
    for (const auto& kv : n) out.push_back(kv.first.as<std::string>());
  return out;
}

std::string Config::get_text(const std::string& key) const {
  YAML::Node n = lookup(key);
  if (!n.IsDefined()) fail(key, "required key is missing");
  record(key, n);
  return scalar_text(n);
}

bool Config::has(const std::string& key) const {
  YAML::Node n = lookup(key);
  return n.IsDefined() && !n.IsNull();
}

Config Config::at(const std::string& key) const {
  YAML::Node n = lookup(key);
  if (n.IsDefined() && !n.IsNull() && !n.IsMap()) fail(key, "expected a section (a mapping of keys)");
  s_->sections.insert(join(key));
  return Config(s_, join(key));
}

void Config::record(const std::string& key, const YAML::Node& value) const {
  s_->used.insert(join(key));
  set_path(s_->resolved, split_key_path(join(key)), value);
}

int64_t Config::get_int(const std::string& key, int64_t def, int64_t lo, int64_t hi) const {
  YAML::Node n = lookup(key);
  int64_t v = def;
  if (n.IsDefined() && !n.IsNull()) {
    if (!n.IsScalar()) fail(key, "expected an integer, got a " + std::string(n.IsMap() ? "mapping" : "list"));
    try {
      v = n.as<int64_t>();
    } catch (const YAML::Exception&) {
      fail(key, "expected an integer, got '" + n.Scalar() + "'");
    }
  }
  if (v < lo || v > hi) {
    std::string range = lo == kIntMin ? "<= " + std::to_string(hi)
                        : hi == kIntMax ? ">= " + std::to_string(lo)
                                        : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    fail(key, "must be " + range + ", got " + std::to_string(v));
  }
  record(key, YAML::Node(v));
  return v;
}

int64_t Config::get_int(const std::string& key) const {
  if (!has(key)) fail(key, "required key is missing");
  return get_int(key, 0);
}

double Config::get_double(const std::string& key, double def, double lo, double hi) const {
  YAML::Node n = lookup(key);
  double v = def;
  if (n.IsDefined() && !n.IsNull()) {
    if (!n.IsScalar()) fail(key, "expected a number, got a " + std::string(n.IsMap() ? "mapping" : "list"));
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      fail(key, "expected a number, got '" + n.Scalar() + "'");
    }
    if (!std::isfinite(v)) fail(key, "expected a finite number, got " + n.Scalar());
  }
  if (v < lo || v > hi) fail(key, "must be in [" + fmt_num(lo) + ", " + fmt_num(hi) + "], got " + fmt_num(v));
  record(key, YAML::Node(v));
  return v;
}

double Config::get_positive(const std::string& key, double def) const {
  double v = get_double(key, def);
  if (!(v > 0)) fail(key, "must be > 0, got " + fmt_num(v));
  return v;
}

bool Config::get_bool(const std::string& key, bool def) const {
  YAML::Node n = lookup(key);
  bool v = def;
  if (n.IsDefined() && !n.IsNull()) {
    try {
      if (!n.IsScalar()) throw YAML::Exception(YAML::Mark::null_mark(), "");
      v = n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(key, "expected true or false, got '" + scalar_text(n) + "'");
    }
  }
  record(key, YAML::Node(v));
  return v;
}

std::string Config::get_string(const std::string& key, const std::string& def) const {
  YAML::Node n = lookup(key);
  std::string v = def;
  if (n.IsDefined() && !n.IsNull()) {
    if (!n.IsScalar()) fail(key, "expected a string, got a " + std::string(n.IsMap() ? "mapping" : "list"));
    v = n.Scalar();
  }
  record(key, YAML::Node(v));
  return v;
}

std::string Config::get_string(const std::string& key) const {
  if (!has(key)) fail(key, "required key is missing");
  return get_string(key, "");
}

std::string Config::get_choice(const std::string& key, const std::string& def,
                               const std::vector<std::string>& choices) const {
  std::string v = get_string(key, def);
  for (const auto& c : choices)
    if (c == v) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  fail(key, "'" + v + "' is not one of: " + list);
}

namespace {
// A list of T from `n` (or `def` when absent); `what` names the element type in errors.
template <class T>
std::vector<T> read_list(const Config& c, const std::string& key, const YAML::Node& n, const std::vector<T>& def,
                         const std::string& what) {
  if (!n.IsDefined() || n.IsNull()) return def;
  std::string msg = "expected a list of " + what + ", got '" + scalar_text(n) + "'";
  if (!n.IsSequence()) c.fail(key, msg);
  std::vector<T> v;
  for (const auto& e : n) {
    try {
      v.push_back(e.as<T>());
    } catch (const YAML::Exception&) {
      c.fail(key, msg);
    }
  }
  return v;
}
}  // namespace

std::vector<int64_t> Config::get_int_list(const std::string& key, const std::vector<int64_t>& def) const {
  std::vector<int64_t> v = read_list(*this, key, lookup(key), def, "integers");
  record(key, YAML::Node(v));
  return v;
}

std::vector<std::string> Config::get_choice_list(const std::string& key, const std::vector<std::string>& def,
                                                 const std::vector<std::string>& choices) const {
  std::vector<std::string> v = read_list(*this, key, lookup(key), def, "names");
  std::string allowed;
  for (const auto& c : choices) allowed += (allowed.empty() ? "" : ", ") + c;
  for (const auto& e : v)
    if (std::find(choices.begin(), choices.end(), e) == choices.end())
      fail(key, "unknown entry '" + e + "' (choose from: " + allowed + ")");
  record(key, YAML::Node(v));
  return v;
}

std::vector<std::string> Config::get_string_list(const std::string& key, const std::vector<std::string>& def) const {
  std::vector<std::string> v = read_list(*this, key, lookup(key), def, "names");
  record(key, YAML::Node(v));
  return v;
}

Config::NumberArray Config::get_array(const std::string& key) const {
  YAML::Node n = lookup(key);
  if (!n.IsDefined() || n.IsNull()) fail(key, "required key is missing");
  NumberArray out;
  std::function<void(const YAML::Node&, size_t)> walk = [&](const YAML::Node& node, size_t depth) {
    if (node.IsScalar()) {
      if (depth != out.shape.size() && !out.values.empty()) fail(key, "ragged nested list");
      if (out.values.empty()) out.shape.resize(depth);
      try {
        out.values.push_back(node.as<double>());
        if (!std::isfinite(out.values.back())) fail(key, "expected finite numbers, got " + node.Scalar());
      } catch (const YAML::Exception&) {
        fail(key, "expected numbers, got '" + node.Scalar() + "'");
      }
      return;
    }
    if (!node.IsSequence() || node.size() == 0) fail(key, "expected a (nested) list of numbers");
    if (out.values.empty() && out.shape.size() <= depth) out.shape.push_back(static_cast<int64_t>(node.size()));
    else if (depth >= out.shape.size() || out.shape[depth] != static_cast<int64_t>(node.size()))
      fail(key, "ragged nested list: rows of different lengths");
    for (const auto& e : node) walk(e, depth + 1);
  };
  walk(n, 0);
  record(key, n);
  return out;
}

void Config::check_unused() const {
  std::vector<std::string> errors;
  const auto& used = s_->used;
  auto known_under = [&](const std::string& parent) {
    std::set<std::string> names;
    std::string pre = parent.empty() ? "" : parent + ".";
    auto collect = [&](const std::string& p) {
      if (p.rfind(pre, 0) != 0 || p.size() == pre.size()) return;
      std::string rest = p.substr(pre.size());
      names.insert(rest.substr(0, rest.find('.')));
    };
    for (const auto& p : used) collect(p);
    for (const auto& p : s_->sections) collect(p);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return list;
  };
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node,
                                                                        const std::string& prefix) {
    for (const auto& kv : node) {
      std::string p = (prefix.empty() ? "" : prefix + ".") + kv.first.as<std::string>();
      if (used.count(p)) continue;
      bool opened = s_->sections.count(p) > 0;
      for (auto it = used.lower_bound(p + "."); !opened && it != used.end() && it->rfind(p + ".", 0) == 0; ++it)
        opened = true;
      if (opened && kv.second.IsMap()) {
        walk(kv.second, p);
        continue;
      }
      if (opened && kv.second.IsSequence()) {  // a list of sections
        for (size_t i = 0; i < kv.second.size(); ++i) {
          std::string pi = p + "." + std::to_string(i);
          if (kv.second[i].IsMap() && !used.count(pi)) walk(kv.second[i], pi);
        }
        continue;
      }
      if (opened && kv.second.IsNull()) continue;  // an empty section
      Config root(s_, "");
      std::string known = known_under(prefix);
      errors.push_back(root.where(p) + ": " + p + ": unknown key" +
                       (known.empty() ? "" : " (known here: " + known + ")"));
    }
  };
  walk(s_->root, "");
  if (errors.empty()) return;
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  throw ConfigError(msg);
}

std::map<std::string, std::string> Config::resolved_leaves(const std::string& key) const {
  YAML::Node n = YAML::Clone(s_->resolved);
  for (const auto& part : split_key_path(join(key))) {
    if (!n.IsMap() || !n[part].IsDefined()) return {};
    n = n[part];
  }
  return leaves(n);
}

std::map<std::string, std::string> Config::yaml_leaves(const std::string& yaml) { return leaves(YAML::Load(yaml)); }

std::string Config::resolved_yaml() const {
  YAML::Emitter e;
  e << s_->resolved;
  return std::string(e.c_str()) + "\n";
}

}  // namespace scorelab
