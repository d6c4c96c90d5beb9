#include "networks/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace scorelab {

double LrSchedule::at(int64_t k) const {
  if (type == "constant") return lr;
  const double kk = static_cast<double>(std::max<int64_t>(k, 1));
  const double ramp = warmup > 0 ? std::min(1.0, kk / static_cast<double>(warmup)) : 1.0;
  if (type == "linear_warmup") return lr * ramp;
  if (type == "cosine") {
    if (k <= warmup) return lr * ramp;
    const double u = std::min(1.0, (kk - static_cast<double>(warmup)) / static_cast<double>(std::max<int64_t>(1, steps - warmup)));
    return min_lr + (lr - min_lr) * 0.5 * (1 + std::cos(M_PI * u));
  }
  // inverse_sqrt
  return lr * ramp / std::sqrt(std::max(kk / static_cast<double>(std::max<int64_t>(1, decay_steps)), 1.0));
}

}  // namespace scorelab
