#include "experiments/sweep.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <ctime>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "core/fsutil.h"
#include "core/h5log.h"
#include "core/signals.h"
#include "experiments/evaluation/evaluation.h"
#include "experiments/run_spec.h"

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
    for (const auto& c : RunLog::read_table_columns(log, "eval"))
      if (!c.empty() && c != "step" && c != "sample_seconds" && c != "eval_seconds") names.push_back(c);
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

// The sweep file, parsed: the base config, the output directory and the points.
struct SweepPlan {
  std::string path, base, out_dir;
  std::vector<std::string> common;  // overrides applied to every point
  std::vector<SweepPoint> points;
  SlurmResources slurm;  // the file's `slurm:` section
};

std::vector<std::vector<std::pair<std::string, std::string>>> combinations(const std::vector<Axis>& grid,
                                                                         const std::vector<Axis>& zip) {
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
  return combos;
}

SweepPlan plan(const std::string& path) {
  SweepPlan pl;
  pl.path = path;
  Config sw = Config::load_file(path);
  pl.base = sw.get_string("base");
  if (!fs::exists(pl.base) && fs::exists(fs::path(path).parent_path() / pl.base))
    pl.base = (fs::path(path).parent_path() / pl.base).string();
  if (!fs::exists(pl.base)) sw.fail("base", "'" + pl.base + "' does not exist");
  pl.out_dir = sw.get_string("out_dir", "runs/sweeps/" + fs::path(path).stem().string());
  for (int64_t i = 0, n = sw.list_size("overrides"); i < n; ++i)
    pl.common.push_back(sw.get_text("overrides." + std::to_string(i)));
  std::vector<Axis> grid, zip;
  if (sw.has("grid")) collect_axes(sw, "grid", grid);
  if (sw.has("zip")) collect_axes(sw, "zip", zip);
  for (const auto& a : zip)
    if (a.values.size() != zip[0].values.size())
      sw.fail("zip." + a.key, "has " + std::to_string(a.values.size()) + " values, zip." + zip[0].key + " has " +
                                  std::to_string(zip[0].values.size()));
  const std::vector<int64_t> seeds = sw.get_int_list("seeds", {});
  for (const auto& a : grid)
    if (a.key == "run.seed" && !seeds.empty()) sw.fail("seeds", "run.seed is swept in the grid as well; use one of the two");
  for (const auto& a : zip)
    if (a.key == "run.seed" && !seeds.empty()) sw.fail("seeds", "run.seed is swept in zip as well; use one of the two");
  for (size_t i = 0; i < seeds.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (seeds[i] == seeds[j]) sw.fail("seeds", "seed " + std::to_string(seeds[i]) + " is listed twice");
  if (sw.has("seeds") && seeds.empty()) sw.fail("seeds", "needs at least one seed");
  for (int64_t s : seeds)
    if (s < 0) sw.fail("seeds", "seeds are non-negative integers, got " + std::to_string(s));
  if (sw.has("slurm")) {
    const Config sl = sw.at("slurm");
    pl.slurm.time = sl.get_string("time", "");
    pl.slurm.mem = sl.get_string("mem", "");
    pl.slurm.gres = sl.get_string("gres", "");
    pl.slurm.partition = sl.get_string("partition", "");
    auto count = [&](const char* k, int64_t hi) { return sl.has(k) ? sl.get_int(k, 1, 1, hi) : int64_t{0}; };
    pl.slurm.cpus_per_task = count("cpus_per_task", 4096);
    pl.slurm.nodes = count("nodes", 100000);
    pl.slurm.ntasks_per_node = count("ntasks_per_node", 4096);
    for (const char* k : {"time", "mem", "gres", "partition"})
      if (sl.has(k) && sl.get_string(k).find_first_of(" \t\n'\"\\$`") != std::string::npos)
        sl.fail(k, "goes into an #SBATCH line: no spaces, quotes, $ or backslashes");
  }
  sw.check_unused();
  for (const auto& c : combinations(grid, zip)) {
    for (size_t r = 0; r < std::max<size_t>(1, seeds.size()); ++r) {
      SweepPoint p;
      p.swept = c;
      p.name = point_name(c);
      p.overrides = pl.common;
      for (const auto& [k, v] : c) p.overrides.push_back(k + "=" + v);
      if (!seeds.empty()) {
        p.seed = seeds[r];
        p.name += "_seed-" + std::to_string(p.seed);
        p.overrides.push_back("run.seed=" + std::to_string(p.seed));
      }
      p.overrides.push_back("run.out_dir=" + pl.out_dir);
      p.overrides.push_back("run.name=" + p.name);
      p.overrides.push_back("train.resume=true");
      p.status = "planned";
      pl.points.push_back(p);
    }
  }
  return pl;
}

// The command line's resources over the file's.
SlurmResources merged(const SlurmResources& file, const SlurmResources& cli) {
  SlurmResources r = file;
  for (auto [to, from] : {std::pair{&r.time, &cli.time}, {&r.mem, &cli.mem}, {&r.gres, &cli.gres}, {&r.partition, &cli.partition}})
    if (!from->empty()) *to = *from;
  for (auto [to, from] : {std::pair{&r.cpus_per_task, &cli.cpus_per_task}, {&r.nodes, &cli.nodes},
                          {&r.ntasks_per_node, &cli.ntasks_per_node}})
    if (*from > 0) *to = *from;
  if (r.cpus_per_task == 0) r.cpus_per_task = 2;
  return r;
}

// out_dir/sweep.slurm (the array, one task per point, each task's output in logs/<point>.log
// like a local sweep's), out_dir/collect.slurm (the summary, from the runs on disk) and
// out_dir/submit.sh (submits the array, then the summary job to start after it, whatever
// became of its tasks).
void emit_slurm(const SweepPlan& pl, const SweepOptions& o) {
  const SlurmResources r = merged(pl.slurm, o.slurm);
  const std::string exe = quote(o.exe.empty() ? self_exe() : o.exe), out = fs::absolute(pl.out_dir).string();
  const std::string name = sanitize(fs::path(pl.path).stem().string());
  auto resources = [&](std::ostringstream& s, bool array) {
    if (!r.time.empty() && array) s << "#SBATCH --time=" << r.time << "\n";
    if (!r.mem.empty() && array) s << "#SBATCH --mem=" << r.mem << "\n";
    if (!r.gres.empty() && array) s << "#SBATCH --gres=" << r.gres << "\n";
    if (!r.partition.empty()) s << "#SBATCH --partition=" << r.partition << "\n";
    if (array) {
      s << "#SBATCH --cpus-per-task=" << r.cpus_per_task << "\n";
      if (r.nodes > 0) s << "#SBATCH --nodes=" << r.nodes << "\n";
      if (r.ntasks_per_node > 0) s << "#SBATCH --ntasks-per-node=" << r.ntasks_per_node << "\n";
    }
  };
  std::ostringstream s;
  s << "#!/bin/bash\n# Generated by scorelab sweep " << pl.path << ": one array task per point. Submit with\n"
    << "# submit.sh (this array, then collect.slurm for the summary).\n"
    << "#SBATCH --job-name=" << name << "\n#SBATCH --array=0-" << pl.points.size() - 1 << "\n#SBATCH --output=" << out
    << "/logs/slurm-%A_%a.out\n";
  resources(s, true);
  s << "\nNAMES=(\n";
  for (const auto& p : pl.points) s << "  " << quote(p.name) << "\n";
  s << ")\nPOINTS=(\n";
  for (const auto& p : pl.points) {
    std::string args;
    for (const auto& ov : p.overrides) args += " " + quote(ov);
    s << "  " << quote(args.substr(1)) << "\n";
  }
  s << ")\ni=$SLURM_ARRAY_TASK_ID\nexec >> " << quote(out + "/logs/") << "\"${NAMES[$i]}.log\" 2>&1\n"
    << "echo \"=== array task ${SLURM_ARRAY_JOB_ID}_$i on $(hostname) at $(date '+%F %T') ===\"\n";
  if (r.nodes > 1 || r.ntasks_per_node > 1)  // several processes per point: data-parallel (docs/distributed.md)
    s << "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n"
      << "export MASTER_PORT=$((29500 + i % 1000))\n";
  s << "eval \"srun " << exe << " train " << quote(fs::absolute(pl.base).string()) << " ${POINTS[$i]}\"\n";
  atomic_write_text(pl.out_dir + "/sweep.slurm", s.str());

  std::ostringstream c;
  c << "#!/bin/bash\n# Generated by scorelab sweep " << pl.path << ": the summary of the array's runs.\n"
    << "#SBATCH --job-name=" << name << "-summary\n#SBATCH --output=" << out << "/logs/summary.out\n"
    << "#SBATCH --time=00:30:00\n#SBATCH --cpus-per-task=1\n";
  resources(c, false);
  c << exe << " sweep " << quote(fs::absolute(pl.path).string()) << " --collect\n";
  atomic_write_text(pl.out_dir + "/collect.slurm", c.str());

  const std::string submit = "#!/bin/bash\n# Generated by scorelab sweep " + pl.path +
                             ": the array, then the summary job once every task has ended.\nset -euo pipefail\n"
                             "array=$(sbatch --parsable " + quote(out + "/sweep.slurm") + ")\n"
                             "sbatch --dependency=afterany:\"${array%%;*}\" " + quote(out + "/collect.slurm") + "\n";
  atomic_write_text(pl.out_dir + "/submit.sh", submit);
  fs::permissions(pl.out_dir + "/submit.sh", fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
  std::cout << "wrote " << pl.out_dir << "/sweep.slurm (" << pl.points.size() << " array tasks), collect.slurm and "
            << "submit.sh; submit with " << pl.out_dir << "/submit.sh\n";
}

// Every point validated from its spec (no data read, no model built; each point is built once,
// in its child): a config error fails that point, not the sweep.
void validate(SweepPlan& pl) {
  for (auto& p : pl.points) {
    try {
      RunSpec::from(Config::load_file(pl.base, p.overrides), p.name);
    } catch (const std::exception& e) {
      p.status = "failed";
      p.error = e.what();
    }
  }
}

// Runs `args` (args[0]: the executable) with stdout and stderr appended to `log`; returns its
// exit code (128 + signal if a signal ended it). The child is sent SIGTERM if the sweep dies
// (PR_SET_PDEATHSIG: a SIGKILLed sweep leaves no orphan training), and is forwarded SIGINT /
// SIGTERM the sweep receives (it then checkpoints and stops; core/signals.h).
int run_child(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("sweep: fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);  // the sweep died before the prctl
    setpgid(0, 0);  // its own group: a terminal's Ctrl-C reaches the sweep, which forwards it once
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  bool forwarded = false;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -1;
    if (const int sig = stop_signal(); sig && !forwarded) {
      kill(pid, sig);
      forwarded = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The valid points as child processes, `jobs` at a time. Each point's output is appended to
// logs/<point>.log under a header per attempt, so a re-run keeps what earlier attempts said.
void run_points(SweepPlan& pl, const SweepOptions& o) {
  const int jobs = std::max(1, o.jobs);
  int threads = std::max(1, available_cores() / jobs);
  std::atomic<size_t> next{0};
  std::mutex print_mutex;
  size_t finished = 0;
  // One line per point as it ends (stdout), so a long sweep shows its results as they come.
  auto report = [&](SweepPoint& p) {
    if (p.status == "done") read_metrics(p, pl.out_dir + "/" + p.name + "/log.h5");
    std::lock_guard<std::mutex> lock(print_mutex);
    std::ostringstream line;
    line << "[" << ++finished << "/" << pl.points.size() << "] " << p.name << ": " << p.status;
    for (const auto& [k, v] : p.metrics) {
      if (k.size() > 6 && (k.rfind("_prior") == k.size() - 6 || k.rfind("_floor") == k.size() - 6)) continue;
      if (!is_se_column(p.metrics, k)) line << "  " << k << " " << value_with_se(p.metrics, k);
    }
    if (p.status != "done") line << "  (" << p.error.substr(0, 200) << ")";
    std::cout << line.str() << "\n" << std::flush;
  };
  auto worker = [&] {
    for (size_t i; (i = next++) < pl.points.size();) {
      SweepPoint& p = pl.points[i];
      if (p.status == "failed") continue;
      if (stop_signal()) {
        p.status = "stopped";
        p.error = std::string("the sweep was stopped by ") + signal_name(stop_signal()) + " before this point started";
        continue;
      }
      std::vector<std::string> args{o.exe.empty() ? self_exe() : o.exe, "train", pl.base};
      for (const auto& ov : p.overrides) args.push_back(ov);
      if (jobs > 1) args.push_back("run.threads=" + std::to_string(threads));
      const std::string log = pl.out_dir + "/logs/" + p.name + ".log";
      {
        const std::time_t now = std::time(nullptr);
        char when[64];
        std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
        std::ofstream(log, std::ios::app) << "=== attempt at " << when << ": scorelab train " << pl.base << " ... ===\n";
      }
      const int code = run_child(args, log);
      if (code == 0) {
        p.status = "done";
      } else {
        p.status = code > 128 && code == 128 + stop_signal() ? "stopped" : "failed";
        p.error = "exit code " + std::to_string(code) + ": " + tail_of(log, 3);
      }
      report(p);
    }
  };
  install_stop_handlers();
  std::vector<std::thread> pool;
  for (int j = 0; j < jobs; ++j) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  remove_stop_handlers();
}

bool as_number(const std::string& text, double& v) {
  if (text.empty()) return false;
  char* end = nullptr;
  v = std::strtod(text.c_str(), &end);
  return end && *end == '\0';
}

std::string num_text(double v) {
  if (std::isnan(v)) return "";
  std::ostringstream os;
  os.precision(5);
  os << v;
  return os.str();
}

// One swept key as a table column: float64 when every point's value reads as a number,
// else strings (YAML text).
void add_key_column(std::vector<TableColumn>& cols, const std::string& key, const std::vector<std::string>& texts) {
  std::vector<double> nums;
  for (const auto& t : texts) {
    double v;
    if (!as_number(t, v)) {
      cols.push_back(TableColumn::of(key, texts));
      return;
    }
    nums.push_back(v);
  }
  cols.push_back(TableColumn::of(key, nums));
}

std::string swept_value(const SweepPoint& p, const std::string& key) {
  for (const auto& [k, v] : p.swept)
    if (k == key) return v;
  return "";
}

// summary.md, summary.csv and sweep.h5: /points, one row per point with one typed column per
// swept key (and `seed`), its status and final metrics. With `seeds:`, also /cells (and
// summary_cells.csv): one row per grid cell with the number of finished seeds and each
// metric's mean and sample standard deviation over them.
void write_summary(const SweepPlan& pl) {
  const auto& points = pl.points;
  // Columns: the union of the points' metrics, in order of first appearance.
  std::vector<std::string> metric_names, keys;
  for (const auto& p : points) {
    for (const auto& [k, v] : p.metrics)
      if (std::find(metric_names.begin(), metric_names.end(), k) == metric_names.end()) metric_names.push_back(k);
    for (const auto& [k, v] : p.swept)
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  if (metric_names.empty()) metric_names = {"final_loss"};
  const bool seeded = !points.empty() && points[0].seed >= 0;
  // Markdown shows a metric's standard error beside it ("v ± se"), not as a column of its own;
  // CSV and sweep.h5 keep every column.
  std::vector<bool> md_shown(metric_names.size(), true);
  std::vector<int> se_of(metric_names.size(), -1);
  for (size_t m = 0; m < metric_names.size(); ++m)
    for (size_t j = 0; j < metric_names.size(); ++j)
      if (metric_names[j] == metric_names[m] + "_se") se_of[m] = static_cast<int>(j), md_shown[j] = false;
  const size_t md_metrics = static_cast<size_t>(std::count(md_shown.begin(), md_shown.end(), true));

  std::ostringstream md, csv;
  md << "| run |";
  csv << "run";
  for (const auto& k : keys) md << " " << k << " |", csv << "," << csv_field(k);
  if (seeded) md << " seed |", csv << ",seed";
  md << " status |";
  csv << ",status";
  for (size_t m = 0; m < metric_names.size(); ++m) {
    if (md_shown[m]) md << " " << metric_names[m] << " |";
    csv << "," << csv_field(metric_names[m]);
  }
  md << " error |\n|";
  csv << ",error\n";
  for (size_t k = 0; k < keys.size() + (seeded ? 1 : 0) + md_metrics + 3; ++k) md << "---|";
  md << "\n";
  std::vector<std::string> names, swept, status, errors, all_overrides;
  std::vector<std::vector<std::string>> key_texts(keys.size());
  std::vector<double> failed, seed_col;
  std::vector<std::vector<double>> values(metric_names.size());
  for (const SweepPoint& p : points) {
    std::string ov, all;
    for (const auto& [k, v] : p.swept) ov += (ov.empty() ? "" : " ") + k + "=" + v;
    for (const auto& x : p.overrides) all += (all.empty() ? "" : " ") + x;
    md << "| " << p.name << " |";
    csv << csv_field(p.name);
    for (size_t k = 0; k < keys.size(); ++k) {
      key_texts[k].push_back(swept_value(p, keys[k]));
      md << " " << key_texts[k].back() << " |";
      csv << "," << csv_field(key_texts[k].back());
    }
    if (seeded) {
      md << " " << p.seed << " |";
      csv << "," << p.seed;
      seed_col.push_back(static_cast<double>(p.seed));
    }
    md << " " << p.status << " |";
    csv << "," << csv_field(p.status);
    for (size_t m = 0; m < metric_names.size(); ++m) {
      const double v = metric_value(p.metrics, metric_names[m]);
      values[m].push_back(v);
      csv << "," << num_text(v);
      if (!md_shown[m]) continue;
      const double se = se_of[m] >= 0 ? metric_value(p.metrics, metric_names[se_of[m]]) : NAN;
      md << " " << num_text(v) << (std::isfinite(se) ? " ± " + num_text(se) : "") << " |";
    }
    std::string err = p.error;
    for (char& c : err)
      if (c == '\n' || c == '|') c = ' ';
    md << " " << err << " |\n";
    csv << "," << csv_field(p.error) << "\n";
    names.push_back(p.name);
    swept.push_back(ov);
    all_overrides.push_back(all);
    status.push_back(p.status);
    errors.push_back(p.error);
    failed.push_back(p.status == "failed" ? 1.0 : 0.0);
  }

  // Grid cells over seeds: consecutive points with the same swept values.
  std::ostringstream cells_md, cells_csv;
  std::vector<TableColumn> cell_cols;
  if (seeded) {
    std::vector<std::vector<std::string>> cell_keys(keys.size());
    std::vector<double> cell_n;
    std::vector<std::vector<double>> mean(metric_names.size()), sd(metric_names.size());
    cells_md << "\n## Mean ± sd over seeds\n\nn: seeds that finished; sd: sample standard deviation over them.\n\n|";
    for (const auto& k : keys) cells_md << " " << k << " |", cells_csv << csv_field(k) << ",";
    cells_md << " n |";
    cells_csv << "n";
    for (size_t m = 0; m < metric_names.size(); ++m) {
      if (md_shown[m]) cells_md << " " << metric_names[m] << " |";
      cells_csv << "," << csv_field(metric_names[m] + "_mean") << "," << csv_field(metric_names[m] + "_sd");
    }
    cells_md << "\n|";
    cells_csv << "\n";
    for (size_t k = 0; k < keys.size() + 1 + md_metrics; ++k) cells_md << "---|";
    cells_md << "\n";
    for (size_t a = 0, b; a < points.size(); a = b) {
      for (b = a + 1; b < points.size() && points[b].swept == points[a].swept; ++b) {
      }
      int64_t n = 0;
      for (size_t i = a; i < b; ++i) n += points[i].status == "done";
      cells_md << "|";
      for (size_t k = 0; k < keys.size(); ++k) {
        cell_keys[k].push_back(swept_value(points[a], keys[k]));
        cells_md << " " << cell_keys[k].back() << " |";
        cells_csv << csv_field(cell_keys[k].back()) << ",";
      }
      cells_md << " " << n << " |";
      cells_csv << n;
      cell_n.push_back(static_cast<double>(n));
      for (size_t m = 0; m < metric_names.size(); ++m) {
        std::vector<double> v;
        for (size_t i = a; i < b; ++i)
          if (points[i].status == "done" && std::isfinite(values[m][i])) v.push_back(values[m][i]);
        const auto [mu, s] = mean_and_sd(v);
        mean[m].push_back(mu);
        sd[m].push_back(s);
        if (md_shown[m]) cells_md << " " << num_text(mu) << (std::isnan(s) ? "" : " ± " + num_text(s)) << " |";
        cells_csv << "," << num_text(mu) << "," << num_text(s);
      }
      cells_md << "\n";
      cells_csv << "\n";
    }
    for (size_t k = 0; k < keys.size(); ++k) add_key_column(cell_cols, keys[k], cell_keys[k]);
    cell_cols.push_back(TableColumn::of("n", cell_n));
    for (size_t m = 0; m < metric_names.size(); ++m) {
      cell_cols.push_back(TableColumn::of(metric_names[m] + "_mean", mean[m]));
      cell_cols.push_back(TableColumn::of(metric_names[m] + "_sd", sd[m]));
    }
  }

  TableFile h5(pl.out_dir + "/sweep.h5", {{"sweep", pl.path}, {"base", pl.base}, {"table", md.str() + cells_md.str()}});
  std::vector<TableColumn> cols{TableColumn::of("run", names)};
  for (size_t k = 0; k < keys.size(); ++k) add_key_column(cols, keys[k], key_texts[k]);
  if (seeded) cols.push_back(TableColumn::of("seed", seed_col));
  cols.push_back(TableColumn::of("status", status));
  cols.push_back(TableColumn::of("failed", failed));
  for (size_t m = 0; m < metric_names.size(); ++m) cols.push_back(TableColumn::of(metric_names[m], values[m]));
  cols.push_back(TableColumn::of("error", errors));
  cols.push_back(TableColumn::of("overrides", swept));
  cols.push_back(TableColumn::of("all_overrides", all_overrides));
  h5.table("points", cols);
  if (seeded) h5.table("cells", cell_cols);
  h5.commit();
  std::string header = "# sweep: " + pl.path + "\n\nbase `" + pl.base + "`, " + std::to_string(points.size()) +
                       " points, runs in `" + pl.out_dir + "/<run>`, logs in `" + pl.out_dir + "/logs/`.\n\n";
  atomic_write_text(pl.out_dir + "/summary.md", header + md.str() + cells_md.str());
  atomic_write_text(pl.out_dir + "/summary.csv", csv.str());
  if (seeded) atomic_write_text(pl.out_dir + "/summary_cells.csv", cells_csv.str());
  std::cout << header << md.str() << cells_md.str();
}

}  // namespace

std::vector<SweepPoint> run_sweep(const std::string& path, const SweepOptions& o) {
  SweepPlan pl = plan(path);
  if (o.check) {
    validate(pl);
    std::string errors;
    for (const auto& p : pl.points)
      if (p.status == "failed") errors += "\n  " + p.name + ": " + p.error;
    if (!errors.empty()) throw ConfigError(path + ": points with errors:" + errors);
    std::cout << "ok: " << path << ": " << pl.points.size() << " valid points (nothing run)\n";
    return pl.points;
  }
  fs::create_directories(pl.out_dir + "/logs");
  if (o.emit == "slurm") {
    emit_slurm(pl, o);
    return pl.points;
  }
  if (o.collect) {  // the summary of what is on disk: a point is done when its log has a final evaluation
    DirLock lock(pl.out_dir, "sweep");
    size_t done = 0;
    for (auto& p : pl.points) {
      const std::string log = pl.out_dir + "/" + p.name + "/log.h5";
      bool finished = false;
      try {
        const Config c = Config::load_file(pl.base, p.overrides);
        const int64_t steps = RunSpec::from(c, p.name).train.steps;
        const std::vector<double> ev = RunLog::read_column(log, "eval/step");
        finished = !ev.empty() && ev.back() == static_cast<double>(steps);
      } catch (const std::exception&) {
      }
      p.status = finished ? "done" : fs::exists(log) ? "unfinished" : "not run";
      if (finished) {
        read_metrics(p, log);
        ++done;
      }
    }
    write_summary(pl);
    std::cout << "collected " << done << " of " << pl.points.size() << " points into " << pl.out_dir << "/summary.md\n";
    return pl.points;
  }
  DirLock lock(pl.out_dir, "sweep");  // a second copy of this sweep refuses, naming the holder
  validate(pl);
  run_points(pl, o);
  write_summary(pl);
  return pl.points;
}

int command_sweep(const std::string& path, const SweepOptions& o) {
  auto points = run_sweep(path, o);
  for (const auto& p : points)
    if (p.status == "stopped") {
      std::cerr << "sweep stopped: points that did not finish continue from their checkpoints when the same "
                   "command runs again\n";
      return 128 + (stop_signal() ? stop_signal() : SIGINT);
    }
  for (const auto& p : points)
    if (p.status == "failed") return 1;
  return 0;
}

}  // namespace scorelab
