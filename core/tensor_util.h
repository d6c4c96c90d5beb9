// Small tensor helpers shared by every module.
#pragma once
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

}  // namespace scorelab
