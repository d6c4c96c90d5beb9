// `scorelab sweep sweep.yaml [-j N] [--emit slurm]`: a base config plus a grid (and/or zipped
// lists) of key.path overrides, one isolated run directory per point, run in parallel as child
// processes; a failed point is recorded with its error and does not stop the others;
// re-running skips finished points and resumes interrupted ones (train.resume=true). At the
// end one summary table: summary.md, summary.csv and sweep.h5.
//
//   base: quickstart.yaml          # relative to this file (or to the working directory)
//   out_dir: runs/sweeps/<stem>
//   overrides: [train.steps=500]   # applied to every point
//   grid:                          # nested like the config; every combination
//     loss: {weighting: [plain, likelihood]}
//     model: {hidden: [64, 128]}
//   zip:                           # optional: lists of one length, varied together
//     train: {lr: [1.0e-3, 3.0e-3]}
//   seeds: [0, 1, 2]               # optional: each point once per run.seed; the summary adds
//                                  # mean ± sd over the seeds of each grid cell
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace scorelab {

struct SweepPoint {
  std::string name;                    // run directory name, from the overrides
  std::vector<std::string> overrides;  // key.path=value
  std::vector<std::pair<std::string, std::string>> swept;  // the grid/zip values of this point (key.path, YAML text)
  int64_t seed = -1;                   // run.seed of a `seeds:` replicate (-1: no seeds list)
  std::string status;                  // done | failed | stopped (by a signal) | planned
  std::string error;
  std::vector<std::pair<std::string, double>> metrics;
};

// What a Slurm job array asks for (the sweep file's `slurm:` section; the command line's
// --time, --mem, ... override it). Empty / 0: not asked (the cluster's default), but
// cpus_per_task, which defaults to 2.
struct SlurmResources {
  std::string time, mem, gres, partition;
  int64_t cpus_per_task = 0, nodes = 0, ntasks_per_node = 0;
};

struct SweepOptions {
  int jobs = 1;
  std::string emit;  // "" (run) or "slurm"
  SlurmResources slurm;  // --emit slurm: the command line's resources
  bool collect = false;  // the summary of the runs on disk; nothing run (the Slurm summary job)
  std::string exe;   // the scorelab executable for the child runs ("": this process's own)
  bool check = false;  // validate the file and every point, run nothing, write nothing
};

std::vector<SweepPoint> run_sweep(const std::string& sweep_yaml, const SweepOptions& o);
int command_sweep(const std::string& sweep_yaml, const SweepOptions& o);

}  // namespace scorelab
