// `scorelab ema <run dir> --sigma-rel S`: EDM2's post-hoc EMA (networks/posthoc_ema.h) from the
// power-function EMAs a run stored in <run>/ema_snapshots/ (train.posthoc_ema). Writes a
// checkpoint whose EMA weights are the reconstruction — <run>/checkpoints/ema_sigma<S>.pt
// unless -o is given — so `scorelab sample` and `scorelab compare` use it like any checkpoint.
#pragma once
#include <string>
#include <vector>

#include "networks/posthoc_ema.h"

namespace scorelab {

struct PosthocResult {
  std::string out;       // the checkpoint written
  int64_t step = 0;      // the time the reconstruction averages up to (the newest snapshot)
  double gamma = 0;      // of the target sigma_rel
  PosthocFit fit;        // weights of the stored EMAs and the profile's relative L2 error
  std::vector<std::pair<int64_t, double>> basis;  // (step, sigma_rel) of each stored EMA
};

// Throws ConfigError for a sigma_rel out of range or a refused -o; DataError for a run without
// snapshots. `check`: everything but the writing.
PosthocResult posthoc_ema_checkpoint(const std::string& run_dir, double sigma_rel, std::string out, bool force,
                                     bool check = false);
int command_ema(const std::string& run_dir, double sigma_rel, const std::string& out, bool force, bool check);

}  // namespace scorelab
