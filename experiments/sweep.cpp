#include "experiments/sweep.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "experiments/experiment.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {

struct Axis {
  std::string key;                  // key.path
  std::vector<std::string> values;  // YAML texts
};

// Leaves of a nested section whose values are lists: one axis each.
void collect_axes(const Config& cfg, const std::string& section, std::vector<Axis>& out) {
  for (const auto& k : cfg.keys(section)) {
    std::string path = section + "." + k;
    if (cfg.is_list(path)) {
      Axis a{path.substr(path.find('.') + 1), {}};
      int64_t n = cfg.list_size(path);
      for (int64_t i = 0; i < n; ++i) a.values.push_back(cfg.get_text(path + "." + std::to_string(i)));
      if (a.values.empty()) cfg.fail(path, "needs at least one value");
      out.push_back(a);
    } else if (!cfg.keys(path).empty()) {
      collect_axes(cfg, path, out);
    } else {
      cfg.fail(path, "expected a list of values (or a section of them)");
    }
  }
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return out;
}

std::string point_name(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string name;
  for (const auto& [k, v] : kv) {
    std::string leaf = k.substr(k.rfind('.') + 1);
    int same = 0;
    for (const auto& other : kv) same += other.first.substr(other.first.rfind('.') + 1) == leaf;
    name += (name.empty() ? "" : "_") + sanitize(same > 1 ? k : leaf) + "-" + sanitize(v);
  }
  return name.empty() ? "base" : name;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "scorelab";
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string tail_of(const std::string& path, int lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) {
    auto cr = l.rfind('\r');
    all.push_back(cr == std::string::npos ? l : l.substr(cr + 1));
  }
  std::string out;
  for (size_t i = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0; i < all.size(); ++i)
    out += (out.empty() ? "" : " | ") + all[i];
  return out;
}

void read_metrics(SweepPoint& p, const std::string& log) {
  auto last = [&](const std::string& ds) {
    auto v = RunLog::read_column(log, ds);
    return v.empty() ? NAN : v.back();
  };
  try {
    p.metrics.push_back({"final_loss", last("train/loss")});
  } catch (const std::exception&) {
    p.metrics.push_back({"final_loss", NAN});
  }
  // Every column of the final evaluation, in the log's order.
  std::vector<std::string> names;
  try {
    std::string cols = RunLog::read_attr(log, "eval", "columns");
    for (size_t a = 0, b; a <= cols.size(); a = b + 1) {
      b = cols.find(',', a);
      if (b == std::string::npos) b = cols.size();
      std::string c = cols.substr(a, b - a);
      if (!c.empty() && c != "step" && c != "sample_seconds" && c != "eval_seconds") names.push_back(c);
    }
  } catch (const std::exception&) {
    names = {"nfe", "sliced_w2"};
  }
  for (const auto& m : names) {
    try {
      p.metrics.push_back({m, last("eval/" + m)});
    } catch (const std::exception&) {
      p.metrics.push_back({m, NAN});
    }
  }
}

}  // namespace

std::vector<SweepPoint> run_sweep(const std::string& path, const SweepOptions& o) {
  Config sw = Config::load_file(path);
  std::string base = sw.get_string("base");
  if (!fs::exists(base) && fs::exists(fs::path(path).parent_path() / base))
    base = (fs::path(path).parent_path() / base).string();
  if (!fs::exists(base)) sw.fail("base", "'" + base + "' does not exist");
  const std::string out_dir = sw.get_string("out_dir", "runs/sweeps/" + fs::path(path).stem().string());
  std::vector<std::string> common;
  for (int64_t i = 0, n = sw.list_size("overrides"); i < n; ++i) common.push_back(sw.get_text("overrides." + std::to_string(i)));
  std::vector<Axis> grid, zip;
  if (sw.has("grid")) collect_axes(sw, "grid", grid);
  if (sw.has("zip")) collect_axes(sw, "zip", zip);
  for (const auto& a : zip)
    if (a.values.size() != zip[0].values.size())
      sw.fail("zip." + a.key, "has " + std::to_string(a.values.size()) + " values, zip." + zip[0].key + " has " +
                                  std::to_string(zip[0].values.size()));
  sw.check_unused();

  // The points: every grid combination times every zip position.
  std::vector<std::vector<std::pair<std::string, std::string>>> combos{{}};
  for (const auto& a : grid) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& c : combos)
      for (const auto& v : a.values) {
        auto d = c;
        d.push_back({a.key, v});
        next.push_back(d);
      }
    combos = next;
  }
  if (!zip.empty()) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& c : combos)
      for (size_t i = 0; i < zip[0].values.size(); ++i) {
        auto d = c;
        for (const auto& a : zip) d.push_back({a.key, a.values[i]});
        next.push_back(d);
      }
    combos = next;
  }
  std::vector<SweepPoint> points;
  for (const auto& c : combos) {
    SweepPoint p;
    p.name = point_name(c);
    p.overrides = common;
    for (const auto& [k, v] : c) p.overrides.push_back(k + "=" + v);
    p.overrides.push_back("run.out_dir=" + out_dir);
    p.overrides.push_back("run.name=" + p.name);
    p.overrides.push_back("train.resume=true");
    p.status = "planned";
    points.push_back(p);
  }
  fs::create_directories(out_dir + "/logs");

  if (o.emit == "slurm") {
    std::ostringstream s;
    s << "#!/bin/bash\n# Generated by scorelab sweep " << path << ": one array task per point.\n"
      << "#SBATCH --job-name=" << sanitize(fs::path(path).stem().string()) << "\n#SBATCH --array=0-" << points.size() - 1
      << "\n#SBATCH --output=" << out_dir << "/logs/%a.log\n#SBATCH --cpus-per-task=2\n\nPOINTS=(\n";
    for (const auto& p : points) {
      std::string args;
      for (const auto& ov : p.overrides) args += " " + quote(ov);
      s << "  " << quote(args.substr(1)) << "\n";
    }
    s << ")\neval \"srun " << quote(o.exe.empty() ? self_exe() : o.exe) << " train " << quote(fs::absolute(base).string())
      << " ${POINTS[$SLURM_ARRAY_TASK_ID]}\"\n";
    atomic_write_text(out_dir + "/sweep.slurm", s.str());
    std::cout << "wrote " << out_dir << "/sweep.slurm (" << points.size() << " array tasks); submit with sbatch\n";
    return points;
  }

  // Validate every point first: a config error fails that point, not the sweep.
  for (auto& p : points) {
    try {
      build_experiment(Config::load_file(base, p.overrides), p.name);
    } catch (const std::exception& e) {
      p.status = "failed";
      p.error = e.what();
    }
  }
  // Run the valid points, `jobs` child processes at a time.
  const int jobs = std::max(1, o.jobs);
  int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / jobs);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < points.size();) {
      SweepPoint& p = points[i];
      if (p.status == "failed") continue;
      std::string cmd = quote(o.exe.empty() ? self_exe() : o.exe) + " train " + quote(base);
      for (const auto& ov : p.overrides) cmd += " " + quote(ov);
      if (jobs > 1) cmd += " " + quote("run.threads=" + std::to_string(threads));
      std::string log = out_dir + "/logs/" + p.name + ".log";
      int status = std::system((cmd + " > " + quote(log) + " 2>&1").c_str());
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      if (code == 0) {
        p.status = "done";
      } else {
        p.status = "failed";
        p.error = "exit code " + std::to_string(code) + ": " + tail_of(log, 3);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < jobs; ++j) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  for (auto& p : points)
    if (p.status == "done") read_metrics(p, out_dir + "/" + p.name + "/log.h5");

  // Summary: Markdown, CSV, HDF5.
  // Columns: the union of the points' metrics, in order of first appearance.
  std::vector<std::string> metric_names;
  for (const auto& p : points)
    for (const auto& [k, v] : p.metrics)
      if (std::find(metric_names.begin(), metric_names.end(), k) == metric_names.end()) metric_names.push_back(k);
  if (metric_names.empty()) metric_names = {"final_loss"};
  std::ostringstream md, csv;
  md << "| run | overrides | status |";
  csv << "run,overrides,status";
  for (const auto& m : metric_names) md << " " << m << " |", csv << "," << m;
  md << " error |\n|---|---|---|";
  csv << ",error\n";
  for (size_t k = 0; k < metric_names.size(); ++k) md << "---|";
  md << "---|\n";
  auto H5 = RunLog::create(out_dir + "/sweep.h5.tmp", {{"sweep", path}, {"base", base}});
  std::vector<std::string> cols{"step", "failed"};
  cols.insert(cols.end(), metric_names.begin(), metric_names.end());
  H5->declare_table("points", cols);
  for (size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& p = points[i];
    std::string ov;
    for (size_t k = common.size(); k + 3 < p.overrides.size(); ++k) ov += (ov.empty() ? "" : " ") + p.overrides[k];
    md << "| " << p.name << " | `" << ov << "` | " << p.status << " |";
    csv << p.name << ",\"" << ov << "\"," << p.status;
    std::vector<double> row{static_cast<double>(i), p.status == "failed" ? 1.0 : 0.0};
    for (const auto& m : metric_names) {
      double v = NAN;
      for (const auto& [k, x] : p.metrics)
        if (k == m) v = x;
      row.push_back(v);
      std::ostringstream num;
      num.precision(5);
      num << v;
      md << " " << (std::isnan(v) ? "" : num.str()) << " |";
      csv << "," << (std::isnan(v) ? "" : num.str());
    }
    std::string err = p.error;
    for (char& c : err)
      if (c == '\n' || c == '|') c = ' ';
    md << " " << err << " |\n";
    csv << ",\"" << err << "\"\n";
    H5->append_row("points", row);
  }
  H5->flush();
  H5->close();
  H5.reset();
  {
    // Names, overrides and errors as attributes of /points (one per point).
    auto log = RunLog::resume(out_dir + "/sweep.h5.tmp", 1 << 30, {{"sweep", path}, {"base", base}, {"table", md.str()}});
    for (size_t i = 0; i < points.size(); ++i) {
      std::string ov;
      for (const auto& x : points[i].overrides) ov += (ov.empty() ? "" : " ") + x;
      log->write_array("points/runs/" + std::to_string(i), at::zeros({1}),
                       {{"name", points[i].name}, {"overrides", ov}, {"status", points[i].status}, {"error", points[i].error}});
    }
  }
  fs::rename(out_dir + "/sweep.h5.tmp", out_dir + "/sweep.h5");
  std::string header = "# sweep: " + path + "\n\nbase `" + base + "`, " + std::to_string(points.size()) +
                       " points, runs in `" + out_dir + "/<run>`, logs in `" + out_dir + "/logs/`.\n\n";
  atomic_write_text(out_dir + "/summary.md", header + md.str());
  atomic_write_text(out_dir + "/summary.csv", csv.str());
  std::cout << header << md.str();
  return points;
}

int command_sweep(const std::string& path, const SweepOptions& o) {
  auto points = run_sweep(path, o);
  for (const auto& p : points)
    if (p.status == "failed") return 1;
  return 0;
}

}  // namespace scorelab
