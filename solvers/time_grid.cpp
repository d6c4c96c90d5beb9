#include "solvers/time_grid.h"

#include <ATen/ATen.h>

namespace scorelab {

at::Tensor uniform_time_grid(int64_t steps, double T, double eps) {
  TORCH_CHECK(steps >= 1, "time grid needs >= 1 step, got ", steps);
  return at::linspace(T, eps, steps + 1, at::kDouble);
}

}  // namespace scorelab
