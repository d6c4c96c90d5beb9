// Small tensor helpers shared by every module.
#pragma once
#include <cmath>

#include <ATen/core/Tensor.h>

namespace scorelab {

// Views a per-sample tensor v [B] as [B, 1, ..., 1] with `ndim` dimensions so that it
// broadcasts against x [B, ...]. The one place broadcasting over data dimensions happens.
inline at::Tensor append_dims(const at::Tensor& v, int64_t ndim) {
  std::vector<int64_t> shape(v.sizes().begin(), v.sizes().end());
  while (static_cast<int64_t>(shape.size()) < ndim) shape.push_back(1);
  return v.view(shape);
}

// Sum over all but the batch dimension: [B, ...] -> [B].
inline at::Tensor sum_except_batch(const at::Tensor& x) { return x.reshape({x.size(0), -1}).sum(1); }

// -log p / (D ln 2): a log-density in nats per example as bits per dimension. For data mapped
// from 8-bit [0, 256) to [-1, 1] add log2(128) = 7 (score_sde's offset) for the 8-bit scale.
inline double bits_per_dim(double log_p, int64_t dims) { return -log_p / (static_cast<double>(dims) * std::log(2.0)); }
inline at::Tensor bits_per_dim(const at::Tensor& log_p, int64_t dims) { return log_p * bits_per_dim(1.0, dims); }

}  // namespace scorelab
