// Time grids for samplers: decreasing T = t_0 > t_1 > ... > t_K = eps (float64, CPU).
#pragma once
#include <ATen/core/Tensor.h>

namespace scorelab {

at::Tensor uniform_time_grid(int64_t steps, double T, double eps);

}  // namespace scorelab
