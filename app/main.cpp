// scorelab: the command-line interface. Thin: parses arguments and calls experiments/.
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <torch/version.h>

#include "core/device.h"
#include "core/distributed.h"
#include "core/error.h"
#include "core/progress.h"
#include "experiments/evaluation/classifier.h"
#include "experiments/commands.h"
#include "experiments/compare.h"
#include "experiments/posthoc.h"
#include "experiments/report/html_report.h"
#include "experiments/sweep.h"

namespace po = boost::program_options;
using scorelab::kExitBadInput;

namespace {

const char* kUsage =
    "usage: scorelab <command> [options]\n\n"
    "commands:\n"
    "  train <config.yaml> [key.path=value ...]     train, checkpoint, sample and evaluate a model\n"
    "  sample <checkpoint|oracle.yaml> [k=v ...]    draw samples from a checkpoint into HDF5\n"
    "  likelihood <checkpoint|oracle.yaml> [k=v ...] NLL of fresh data via the probability-flow ODE\n"
    "  compare <cmp.yaml> [key.path=value ...]      many samplers, one model, the same x_T: one table\n"
    "  sweep <sweep.yaml> [-j N] [--emit slurm]     a grid of overrides, one run each, one summary\n"
    "  train-classifier <config.yaml> [k=v ...]     the image classifier behind the Fréchet distance\n"
    "  report <run|sweep|compare dir> [-o FILE]     one self-contained HTML page: figures, tables, config\n"
    "  ema <run dir> --sigma-rel S [-o FILE]        post-hoc EMA of any width from the stored EMAs (EDM2)\n\n"
    "Run 'scorelab <command> --help' for a command's options (every command takes --quiet:\n"
    "no progress bars; progress goes to stderr, results to stdout). Overrides are typed like the\n"
    "YAML values they replace, e.g. train.steps=500 sample.type=euler_maruyama.\n"
    "scorelab --version prints the version and the LibTorch it was built with.\n";

// "<input> [key.path=value ...]" and a command's own options; prints the help (and sets
// `exit`) when asked for or when the input is missing.
struct Parsed {
  po::variables_map vm;
  std::string input;
  std::vector<std::string> overrides;
  int exit = -1;
};

Parsed parse(const std::vector<std::string>& args, const std::string& usage, const std::string& input_help,
             const std::string& epilogue, const std::function<void(po::options_description_easy_init)>& extra = {}) {
  po::options_description opts(usage);
  auto add = opts.add_options();
  add("help,h", "show this help");
  add("quiet,q", "no progress bars (results and errors are still printed)");
  add("check", "validate the config, overrides and input files, then exit (0: all good) without running or writing");
  if (extra) extra(add);
  // The positional arguments, kept out of the help text.
  po::options_description hidden;
  hidden.add_options()("input", po::value<std::string>(), input_help.c_str())(
      "overrides", po::value<std::vector<std::string>>()->multitoken(), "key.path=value overrides");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("input", 1).add("overrides", -1);
  Parsed p;
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), p.vm);
  if (p.vm.count("help") || !p.vm.count("input")) {
    std::cout << opts << "\n" << epilogue;
    p.exit = p.vm.count("help") ? 0 : kExitBadInput;
    return p;
  }
  if (p.vm.count("quiet")) scorelab::Progress::set_quiet(true);
  p.input = p.vm["input"].as<std::string>();
  if (p.vm.count("overrides")) p.overrides = p.vm["overrides"].as<std::vector<std::string>>();
  return p;
}

int train_main(const std::vector<std::string>& args) {
  Parsed p = parse(args, "scorelab train <config.yaml> [key.path=value ...] [--nproc N]", "experiment YAML file",
                   "Trains the model described by the config; writes runs/<run.name>/{config.yaml,log.h5,"
                   "checkpoints/last.pt,samples/}.\nData-parallel: --nproc N on this machine, or under torchrun's "
                   "or Slurm's variables (docs/distributed.md).\n",
                   [](po::options_description_easy_init add) {
                     add("nproc", po::value<int>()->default_value(0),
                         "data-parallel training with N processes on this machine (Gloo on loopback)");
                   });
  if (p.exit >= 0) return p.exit;
  if (p.vm.count("check")) return scorelab::check_train(p.input, p.overrides);
  const int nproc = p.vm["nproc"].as<int>();
  if (nproc != 0) {
    if (nproc < 1 || nproc > 1024) throw po::error("--nproc must be in [1, 1024]");
    if (std::getenv("WORLD_SIZE") || std::getenv("SLURM_PROCID"))
      throw po::error("--nproc starts its own processes: not under torchrun or srun, which already did");
    scorelab::check_train(p.input, p.overrides, /*quiet=*/true);  // a bad config fails once, before any rank starts
    std::vector<std::string> child{"train"};
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--nproc") {
        ++i;
        continue;
      }
      if (args[i].rfind("--nproc=", 0) == 0) continue;
      child.push_back(args[i]);
    }
    return scorelab::launch_local(child, nproc, std::chrono::seconds(30));
  }
  return scorelab::command_train(p.input, p.overrides);
}

int train_classifier_main(const std::vector<std::string>& args) {
  Parsed p = parse(args, "scorelab train-classifier <config.yaml> [key.path=value ...]", "experiment YAML file",
                   "Trains (or finds in classifier.cache_dir) the small CNN whose features the image Fréchet\n"
                   "distance uses, on the labels of the config's data set; prints its test accuracy and the\n"
                   "train-vs-test floor of the distance (docs/metrics.md).\n");
  if (p.exit >= 0) return p.exit;
  return p.vm.count("check") ? scorelab::check_train(p.input, p.overrides)
                             : scorelab::command_train_classifier(p.input, p.overrides);
}

int compare_main(const std::vector<std::string>& args) {
  Parsed p = parse(args, "scorelab compare <cmp.yaml> [key.path=value ...]", "comparison YAML",
                   "Runs every sampler of the file on one checkpoint or oracle from the same x_T; writes\n"
                   "compare.md, compare.csv, compare.h5, samples.png and quality_vs_nfe.png (docs/compare.md).\n");
  return p.exit >= 0 ? p.exit : scorelab::command_compare(p.input, p.overrides, p.vm.count("check") > 0);
}

int sweep_main(const std::vector<std::string>& args) {
  Parsed p = parse(args, "scorelab sweep <sweep.yaml> [-j N] [--emit slurm [--time T --mem M --gres G ...]] [--collect]", "sweep YAML",
                   "One run per grid point in <out_dir>/<point>; re-running skips finished points and\n"
                   "resumes interrupted ones. Summary: summary.md, summary.csv, sweep.h5 (docs/sweeps.md).\n",
                   [](po::options_description_easy_init add) {
                     add("jobs,j", po::value<int>()->default_value(1), "runs in parallel")(
                         "emit", po::value<std::string>()->default_value(""),
                         "slurm: write a Slurm job array (sweep.slurm), its summary job (collect.slurm) and "
                         "submit.sh instead of running")(
                         "collect", "write the summary of the runs on disk, running nothing (the summary job)")(
                         "time", po::value<std::string>(), "--emit slurm: #SBATCH --time (over the file's slurm.time)")(
                         "mem", po::value<std::string>(), "--emit slurm: #SBATCH --mem")(
                         "gres", po::value<std::string>(), "--emit slurm: #SBATCH --gres, e.g. gpu:1")(
                         "partition", po::value<std::string>(), "--emit slurm: #SBATCH --partition")(
                         "cpus-per-task", po::value<int>(), "--emit slurm: #SBATCH --cpus-per-task (default 2)")(
                         "nodes", po::value<int>(), "--emit slurm: #SBATCH --nodes per point")(
                         "ntasks-per-node", po::value<int>(),
                         "--emit slurm: processes per node and point (> 1: data-parallel, docs/distributed.md)");
                   });
  if (p.exit >= 0) return p.exit;
  if (!p.overrides.empty()) throw po::error("sweep takes no overrides: put them under `overrides:` in the file");
  scorelab::SweepOptions o;
  o.jobs = p.vm["jobs"].as<int>();
  if (o.jobs < 1) throw scorelab::ConfigError("--jobs (-j): must be >= 1, got " + std::to_string(o.jobs));
  o.emit = p.vm["emit"].as<std::string>();
  if (!o.emit.empty() && o.emit != "slurm") throw po::error("--emit takes 'slurm'");
  o.collect = p.vm.count("collect") > 0;
  if (o.collect && !o.emit.empty()) throw po::error("--collect and --emit do not combine");
  for (const char* k : {"time", "mem", "gres", "partition", "cpus-per-task", "nodes", "ntasks-per-node"})
    if (p.vm.count(k) && o.emit != "slurm") throw po::error(std::string("--") + k + " is for --emit slurm");
  auto text = [&](const char* k, std::string& to) {
    if (p.vm.count(k)) to = p.vm[k].as<std::string>();
    if (p.vm.count(k) && (to.empty() || to.find_first_of(" \t\n'\"") != std::string::npos))
      throw po::error(std::string("--") + k + ": a value without spaces or quotes, got '" + to + "'");
  };
  auto count = [&](const char* k, int64_t& to) {
    if (!p.vm.count(k)) return;
    to = p.vm[k].as<int>();
    if (to < 1) throw po::error(std::string("--") + k + " must be >= 1");
  };
  text("time", o.slurm.time);
  text("mem", o.slurm.mem);
  text("gres", o.slurm.gres);
  text("partition", o.slurm.partition);
  count("cpus-per-task", o.slurm.cpus_per_task);
  count("nodes", o.slurm.nodes);
  count("ntasks-per-node", o.slurm.ntasks_per_node);
  o.check = p.vm.count("check") > 0;
  return scorelab::command_sweep(p.input, o);
}

int report_main(const std::vector<std::string>& args) {
  Parsed p = parse(args, "scorelab report <run|sweep|compare directory> [-o FILE]", "directory",
                   "Writes one self-contained HTML page (figures embedded, sortable tables, the resolved config and\n"
                   "provenance) that opens offline: <dir>/report.html unless -o is given.\n",
                   [](po::options_description_easy_init add) {
                     add("out,o", po::value<std::string>()->default_value(""), "output HTML file")(
                         "force", "replace the -o file if it exists");
                   });
  if (p.exit >= 0) return p.exit;
  if (!p.overrides.empty()) throw po::error("report takes one directory and no overrides");
  if (p.vm.count("check")) {
    std::cout << "ok: " << p.input << " is a " << scorelab::report_kind(p.input) << " directory (nothing written)\n";
    return 0;
  }
  return scorelab::command_report(p.input, p.vm["out"].as<std::string>(), p.vm.count("force") > 0);
}

int ema_main(const std::vector<std::string>& args) {
  Parsed p = parse(args, "scorelab ema <run dir> --sigma-rel S [-o FILE]", "run directory",
                   "Reconstructs the EMA of relative width S (EDM2's sigma_rel, e.g. 0.05 to 0.2) at the run's last\n"
                   "snapshot from the power-function EMAs it stored (train.posthoc_ema), and writes it as the EMA\n"
                   "of a checkpoint (default <run>/checkpoints/ema_sigma<S>.pt) to sample or compare (docs/ema.md).\n",
                   [](po::options_description_easy_init add) {
                     add("sigma-rel", po::value<double>(), "the EMA's width relative to the training time")(
                         "out,o", po::value<std::string>()->default_value(""), "output checkpoint")(
                         "force", "replace the -o file if it exists");
                   });
  if (p.exit >= 0) return p.exit;
  if (!p.overrides.empty()) throw po::error("ema takes one run directory and no overrides");
  if (!p.vm.count("sigma-rel")) throw po::error("--sigma-rel is required (e.g. --sigma-rel 0.1)");
  return scorelab::command_ema(p.input, p.vm["sigma-rel"].as<double>(), p.vm["out"].as<std::string>(),
                               p.vm.count("force") > 0, p.vm.count("check") > 0);
}

// sample and likelihood: <checkpoint|config> [overrides] [-o out].
int inference_main(const std::string& cmd, const std::vector<std::string>& args) {
  const bool sample = cmd == "sample";
  Parsed p = parse(args, "scorelab " + cmd + " <checkpoint|oracle.yaml> [key.path=value ...]",
                   "checkpoint (runs/<name>/checkpoints/last.pt) or a config with an oracle model",
                   std::string("Uses the checkpoint's stored config, changed by the overrides, e.g.\n") +
                       (sample ? "  scorelab sample runs/quickstart/checkpoints/last.pt sample.type=ode sample.n=5000\n"
                               : "  scorelab likelihood runs/quickstart/checkpoints/last.pt likelihood.n=2000\n"),
                   [sample](po::options_description_easy_init add) {
                     add("out,o", po::value<std::string>()->default_value(""),
                         sample ? "output HDF5 file (default: <run dir>/samples.h5)"
                                : "output HDF5 file (default: <run dir>/likelihood.h5)")(
                         "force", "replace the -o file if it exists");
                   });
  if (p.exit >= 0) return p.exit;
  const std::string out = p.vm["out"].as<std::string>();
  const bool force = p.vm.count("force") > 0;
  if (p.vm.count("check")) return scorelab::check_inference(p.input, p.overrides, out, force);
  return sample ? scorelab::command_sample(p.input, p.overrides, out, force)
                : scorelab::command_likelihood(p.input, p.overrides, out, force);
}

}  // namespace

int main(int argc, char** argv) {
  scorelab::reexec_with_bounded_openmp_spin(argv);  // before any OpenMP thread exists
  scorelab::keep_freed_memory();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? kExitBadInput : 0;
  }
  if (args[0] == "--version" || args[0] == "-V") {
    std::cout << "scorelab " << SCORELAB_VERSION << " (LibTorch " << TORCH_VERSION << ")\n";
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "train") return train_main(args);
    if (cmd == "sample" || cmd == "likelihood") return inference_main(cmd, args);
    if (cmd == "compare") return compare_main(args);
    if (cmd == "sweep") return sweep_main(args);
    if (cmd == "train-classifier") return train_classifier_main(args);
    if (cmd == "report") return report_main(args);
    if (cmd == "ema") return ema_main(args);
    std::cerr << "scorelab: unknown command '" << cmd << "'\n\n" << kUsage;
    return kExitBadInput;
  } catch (const scorelab::ConfigError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const scorelab::DataError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const scorelab::StorageError& e) {
    std::cerr << "\nerror: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const po::error& e) {
    std::cerr << "scorelab " << cmd << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "scorelab " << cmd << ": " << e.what() << "\n";
    return 1;
  }
}
