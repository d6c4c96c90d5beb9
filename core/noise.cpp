#include "core/noise.h"

#include <cmath>

#include <algorithm>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "core/counter_hash.h"

namespace scorelab {
namespace {

constexpr int64_t kMask32 = 0xFFFFFFFF;

// lowbias32 (C. Wellons, "Prospecting for hash functions"): a bijective 32-bit mixer with
// good avalanche. Values are kept in [0, 2^32) inside int64 tensors; products wrap modulo
// 2^64 and are masked back to 32 bits, so the result is exact on every device.
at::Tensor mix32(at::Tensor x) {
  x = at::bitwise_xor(x, at::bitwise_right_shift(x, 16));
  x = at::bitwise_and(x * int64_t{0x7feb352d}, kMask32);
  x = at::bitwise_xor(x, at::bitwise_right_shift(x, 15));
  x = at::bitwise_and(x * int64_t{0x846ca68b}, kMask32);
  x = at::bitwise_xor(x, at::bitwise_right_shift(x, 16));
  return x;
}

int64_t mix32(int64_t x) {
  uint32_t v = static_cast<uint32_t>(x);
  v ^= v >> 16;
  v *= 0x7feb352dU;
  v ^= v >> 15;
  v *= 0x846ca68bU;
  v ^= v >> 16;
  return static_cast<int64_t>(v);
}

}  // namespace

namespace {

// Key for (seed, stream): two 32-bit halves of the seed, then the stream, folded in.
int64_t stream_key(uint64_t seed, int64_t stream) {
  int64_t key = mix32(static_cast<int64_t>(seed & kMask32));
  key = mix32(key ^ static_cast<int64_t>((seed >> 32) & kMask32));
  key = mix32(key ^ (stream & kMask32));
  return mix32(key ^ ((stream >> 32) & kMask32));
}

// The type Box–Muller computes in: float for float32 (and narrower) noise, else double.
at::ScalarType math_type(at::ScalarType dtype) { return dtype == at::kDouble ? at::kDouble : at::kFloat; }

// Box–Muller on two uniforms in (0, 1) (in math_type), shaped [B, per_sample...].
at::Tensor box_muller(const at::Tensor& u1, const at::Tensor& u2, int64_t B, at::IntArrayRef per_sample_shape,
                      at::ScalarType dtype) {
  at::Tensor z = at::sqrt(at::log(u1).mul_(-2.0)).mul_(at::cos(u2 * (2.0 * M_PI)));
  std::vector<int64_t> shape{B};
  shape.insert(shape.end(), per_sample_shape.begin(), per_sample_shape.end());
  return z.to(dtype).reshape(shape);
}

int64_t numel_of(at::IntArrayRef shape) {
  int64_t per = 1;
  for (auto s : shape) per *= s;
  return per;
}

}  // namespace

at::Tensor counter_normal(uint64_t seed, const at::Tensor& indices, int64_t stream,
                          at::IntArrayRef per_sample_shape, at::ScalarType dtype) {
  TORCH_CHECK(indices.dim() == 1, "counter_normal: indices must be 1-D, got ", indices.sizes());
  if (!indices.device().is_cpu()) return counter_normal_ops(seed, indices, stream, per_sample_shape, dtype);
  // The hash by one loop (core/counter_hash.h) instead of ~60 tensor operations.
  const int64_t per = numel_of(per_sample_shape);
  const uint32_t key = static_cast<uint32_t>(stream_key(seed, stream));
  at::Tensor idx = indices.to(at::kLong).contiguous();
  const int64_t B = idx.size(0);
  at::Tensor u1 = at::empty({B * per}, math_type(dtype)), u2 = at::empty({B * per}, math_type(dtype));
  const int64_t* ip = idx.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(u1.scalar_type(), "counter_normal", [&] {
    scalar_t *p1 = u1.data_ptr<scalar_t>(), *p2 = u2.data_ptr<scalar_t>();
    at::parallel_for(0, B, std::max<int64_t>(1, 32768 / std::max<int64_t>(per, 1)), [&](int64_t b, int64_t e) {
      counter_uniforms(ip + b, e - b, per, key, p1 + b * per, p2 + b * per);
    });
  });
  return box_muller(u1, u2, B, per_sample_shape, dtype);
}

at::Tensor counter_normal_ops(uint64_t seed, const at::Tensor& indices, int64_t stream,
                              at::IntArrayRef per_sample_shape, at::ScalarType dtype) {
  TORCH_CHECK(indices.dim() == 1, "counter_normal: indices must be 1-D, got ", indices.sizes());
  const int64_t key = stream_key(seed, stream);
  auto opts = indices.options().dtype(at::kLong);
  at::Tensor row = mix32(at::bitwise_and(indices.to(at::kLong) ^ key, kMask32));
  row = mix32(at::bitwise_and(row + int64_t{0x9e3779b9}, kMask32));  // [B]
  at::Tensor elem = at::arange(numel_of(per_sample_shape), opts);     // [P]
  at::Tensor h = mix32(at::bitwise_and(row.unsqueeze(1) ^ (elem * 2).unsqueeze(0), kMask32));
  at::Tensor h2 = mix32(at::bitwise_and(row.unsqueeze(1) ^ (elem * 2 + 1).unsqueeze(0), kMask32));
  h = mix32(h);
  h2 = mix32(h2);
  const double scale = 1.0 / 4294967296.0;
  auto uniform = [&](const at::Tensor& bits) { return ((bits.to(at::kDouble) + 0.5) * scale).to(math_type(dtype)); };
  return box_muller(uniform(h), uniform(h2), indices.size(0), per_sample_shape, dtype);
}

at::Tensor NoiseSource::normal_like(const at::Tensor& x, int64_t stream) const {
  TORCH_CHECK(indices.defined() && indices.size(0) == x.size(0), "NoiseSource: ", indices.defined() ? indices.size(0) : 0,
              " indices for a batch of ", x.size(0));
  return counter_normal(seed, indices, stream, x.sizes().slice(1), x.scalar_type()).to(x.device());
}

at::Tensor NoiseSource::brownian_like(const at::Tensor& x, double t) const {
  TORCH_CHECK(brownian_T > 0 && t >= 0 && t <= brownian_T, "NoiseSource: Brownian path on [0, ", brownian_T,
              "] asked for t = ", t);
  TORCH_CHECK(indices.defined() && indices.size(0) == x.size(0), "NoiseSource: indices for a batch of ", x.size(0));
  const at::IntArrayRef shape = x.sizes().slice(1);
  auto normal = [&](int64_t node) { return counter_normal(seed, indices, kBrownianStream + node, shape, at::kDouble); };
  double a = 0, b = brownian_T;
  at::Tensor wb = std::sqrt(brownian_T) * normal(0);
  at::Tensor wa = at::zeros_like(wb);
  if (t == a) return wa.to(x.device());
  int64_t node = 1;
  for (int d = 0; d < kBrownianDepth && t != b; ++d) {
    const double m = 0.5 * (a + b);
    at::Tensor wm = 0.5 * (wa + wb) + std::sqrt(0.25 * (b - a)) * normal(node);
    if (t < m) {
      b = m, wb = wm, node = 2 * node;
    } else {
      a = m, wa = wm, node = 2 * node + 1;
    }
    if (t == a) return wa.to(x.device());
  }
  if (t == b) return wb.to(x.device());
  return (wa + ((t - a) / (b - a)) * (wb - wa)).to(x.device());
}

NoiseSource NoiseSource::range(uint64_t seed, int64_t first, int64_t count, const c10::Device& device) {
  return NoiseSource{seed, at::arange(first, first + count, at::TensorOptions().dtype(at::kLong).device(device)), 0.0};
}

}  // namespace scorelab
