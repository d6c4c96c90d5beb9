#include "solvers/schedule.h"

#include <cmath>

#include <ATen/ATen.h>

#include "sde/sde.h"

namespace scorelab {

namespace {
std::vector<double> to_vector(const at::Tensor& v) {
  at::Tensor c = v.to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}
}  // namespace

double Schedule::sigma_tilde(int64_t k) const { return std::exp(-0.5 * log_snr[k]); }

at::Tensor Schedule::time(int64_t k, int64_t batch) const { return t_model[k].expand({batch}); }

Schedule make_schedule(const SDE& sde, const at::Tensor& grid_in, const at::TensorOptions& opts) {
  at::Tensor grid = grid_in.to(at::kCPU, at::kDouble);
  Schedule s;
  s.t = to_vector(grid);
  at::Tensor a = sde.alpha(grid), sg = sde.sigma(grid);
  s.alpha = to_vector(a);
  s.sigma = to_vector(sg);
  s.log_snr = to_vector(2.0 * (at::log(a) - at::log(sg)));  // = SDE::log_snr without another call
  s.t_model = grid.to(opts.device(), opts.dtype().toScalarType());
  return s;
}

}  // namespace scorelab
