// scorelab: the command-line interface. Thin: parses arguments and calls experiments/.
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "core/error.h"
#include "experiments/commands.h"
#include "experiments/compare.h"
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
    "  sweep <sweep.yaml> [-j N] [--emit slurm]     a grid of overrides, one run each, one summary\n\n"
    "Run 'scorelab <command> --help' for a command's options. Overrides are typed like the\n"
    "YAML values they replace, e.g. train.steps=500 sample.type=euler_maruyama.\n";

int train_main(const std::vector<std::string>& args) {
  po::options_description opts("scorelab train <config.yaml> [key.path=value ...]");
  opts.add_options()("help,h", "show this help")("config", po::value<std::string>(), "experiment YAML file")(
      "overrides", po::value<std::vector<std::string>>()->multitoken(), "key.path=value overrides");
  po::positional_options_description pos;
  pos.add("config", 1).add("overrides", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  if (vm.count("help") || !vm.count("config")) {
    std::cout << opts << "\nTrains the model described by the config; writes runs/<run.name>/{config.yaml,"
                         "log.h5,checkpoints/last.pt,samples/}.\n";
    return vm.count("help") ? 0 : kExitBadInput;
  }
  std::vector<std::string> ov;
  if (vm.count("overrides")) ov = vm["overrides"].as<std::vector<std::string>>();
  return scorelab::command_train(vm["config"].as<std::string>(), ov);
}

int compare_main(const std::vector<std::string>& args) {
  po::options_description opts("scorelab compare <cmp.yaml> [key.path=value ...]");
  opts.add_options()("help,h", "show this help")("config", po::value<std::string>(), "comparison YAML")(
      "overrides", po::value<std::vector<std::string>>()->multitoken(), "key.path=value overrides of the comparison file");
  po::positional_options_description pos;
  pos.add("config", 1).add("overrides", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  if (vm.count("help") || !vm.count("config")) {
    std::cout << opts << "\nRuns every sampler of the file on one checkpoint or oracle from the same x_T; writes\n"
                         "compare.md, compare.csv, compare.h5, samples.png and quality_vs_nfe.png (docs/compare.md).\n";
    return vm.count("help") ? 0 : kExitBadInput;
  }
  std::vector<std::string> ov;
  if (vm.count("overrides")) ov = vm["overrides"].as<std::vector<std::string>>();
  return scorelab::command_compare(vm["config"].as<std::string>(), ov);
}

int sweep_main(const std::vector<std::string>& args) {
  po::options_description opts("scorelab sweep <sweep.yaml> [-j N] [--emit slurm]");
  opts.add_options()("help,h", "show this help")("jobs,j", po::value<int>()->default_value(1), "runs in parallel")(
      "emit", po::value<std::string>()->default_value(""), "slurm: write a Slurm job-array script instead of running")(
      "config", po::value<std::string>(), "sweep YAML");
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  if (vm.count("help") || !vm.count("config")) {
    std::cout << opts << "\nOne run per grid point in <out_dir>/<point>; re-running skips finished points and\n"
                         "resumes interrupted ones. Summary: summary.md, summary.csv, sweep.h5 (docs/sweeps.md).\n";
    return vm.count("help") ? 0 : kExitBadInput;
  }
  scorelab::SweepOptions o;
  o.jobs = vm["jobs"].as<int>();
  o.emit = vm["emit"].as<std::string>();
  if (!o.emit.empty() && o.emit != "slurm") throw po::error("--emit takes 'slurm'");
  return scorelab::command_sweep(vm["config"].as<std::string>(), o);
}

// sample and likelihood: <checkpoint|config> [overrides] [-o out].
int inference_main(const std::string& cmd, const std::vector<std::string>& args) {
  po::options_description opts("scorelab " + cmd + " <checkpoint|oracle.yaml> [key.path=value ...]");
  opts.add_options()("help,h", "show this help")(
      "out,o", po::value<std::string>()->default_value(""),
      cmd == "sample" ? "output HDF5 file (default: <run dir>/samples.h5)" : "output HDF5 file (default: <run dir>/likelihood.h5)")(
      "source", po::value<std::string>(), "checkpoint (runs/<name>/checkpoints/last.pt) or a config with an oracle model")(
      "overrides", po::value<std::vector<std::string>>()->multitoken(), "key.path=value overrides (sample.*, likelihood.*, run.seed, ...)");
  po::positional_options_description pos;
  pos.add("source", 1).add("overrides", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  if (vm.count("help") || !vm.count("source")) {
    std::cout << opts << "\nUses the checkpoint's stored config, changed by the overrides, e.g.\n"
              << (cmd == "sample" ? "  scorelab sample runs/quickstart/checkpoints/last.pt sample.type=ode sample.n=5000\n"
                                  : "  scorelab likelihood runs/quickstart/checkpoints/last.pt likelihood.n=2000\n");
    return vm.count("help") ? 0 : kExitBadInput;
  }
  std::vector<std::string> ov;
  if (vm.count("overrides")) ov = vm["overrides"].as<std::vector<std::string>>();
  const std::string src = vm["source"].as<std::string>(), out = vm["out"].as<std::string>();
  return cmd == "sample" ? scorelab::command_sample(src, ov, out) : scorelab::command_likelihood(src, ov, out);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? kExitBadInput : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "train") return train_main(args);
    if (cmd == "sample" || cmd == "likelihood") return inference_main(cmd, args);
    if (cmd == "compare") return compare_main(args);
    if (cmd == "sweep") return sweep_main(args);
    std::cerr << "scorelab: unknown command '" << cmd << "'\n\n" << kUsage;
    return kExitBadInput;
  } catch (const scorelab::ConfigError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const scorelab::DataError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const po::error& e) {
    std::cerr << "scorelab " << cmd << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "scorelab " << cmd << ": " << e.what() << "\n";
    return 1;
  }
}
