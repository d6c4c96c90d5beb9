// Counter-based Gaussian noise: the value for (seed, sample index, stream, element) is a pure
// function of those four numbers. A sample's starting noise and every step's noise therefore
// do not depend on the batch size, the order of batches or the device (DESIGN.md,
// Conventions), and `compare` can hand every sampler exactly the same x_T.
#pragma once
#include <cstdint>

#include <ATen/core/Tensor.h>

namespace scorelab {

// Standard normals of shape [indices.size(0), per_sample...]; row b belongs to sample
// indices[b]. Computed on indices' device: the uniforms in float64, Box–Muller in float64 for
// float64 noise and in float32 otherwise (then cast to `dtype`).
// On the CPU the hash is one loop (core/counter_hash.h); elsewhere tensor operations
// (counter_normal_ops, the same integers: tested equal).
at::Tensor counter_normal(uint64_t seed, const at::Tensor& indices, int64_t stream,
                          at::IntArrayRef per_sample_shape, at::ScalarType dtype);
at::Tensor counter_normal_ops(uint64_t seed, const at::Tensor& indices, int64_t stream,
                              at::IntArrayRef per_sample_shape, at::ScalarType dtype);

// The noise a sampler draws: a seed and the global indices of the samples in this batch.
// Stream 0 is the starting noise x_T; step k of a sampler uses stream k + 1 (and
// stream + kSubStream * j for its j-th extra draw in one step).
//
// Brownian-tree noise (`sample.noise: brownian_tree`): with brownian_T > 0, a sampler's step
// noise is the normalised increment (W(t_k) - W(t_{k+1})) / sqrt(t_k - t_{k+1}) of one Brownian
// path W per sample on [0, brownian_T], so runs with different step counts share one path.
// W(t) is a pure function of (seed, sample index, t): W(T) = sqrt(T) z_0, and each dyadic
// midpoint m of [a, b] is the Brownian bridge W(m) = (W(a) + W(b)) / 2 + sqrt((b - a) / 4) z_node,
// its normal z_node from stream kBrownianStream + node (the node's heap index); below depth
// kBrownianDepth (intervals of T / 2^24) W is interpolated linearly. Computed in float64.
struct NoiseSource {
  uint64_t seed = 0;
  at::Tensor indices;  // int64 [B]
  double brownian_T = 0;  // > 0: step noise from the Brownian path on [0, brownian_T]
  static constexpr int64_t kSubStream = 1 << 20;
  static constexpr int64_t kBrownianStream = int64_t{1} << 40;
  static constexpr int kBrownianDepth = 24;

  at::Tensor normal_like(const at::Tensor& x, int64_t stream) const;
  // W(t) for every sample, shaped like x, float64 on x's device.
  at::Tensor brownian_like(const at::Tensor& x, double t) const;
  static NoiseSource range(uint64_t seed, int64_t first, int64_t count, const c10::Device& device);
};

}  // namespace scorelab
