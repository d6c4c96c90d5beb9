#include "networks/adam_kernel.h"

#include <cmath>

#include "core/simd_clones.h"

namespace scorelab {
namespace {

// Eight running sums (one per lane, vectorisable without reassociating), added in a fixed order:
// the result does not depend on the instruction set.
template <typename T>
SCORELAB_CLONES double sum_squares_impl(const T* g, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += static_cast<double>(g[i + j]) * static_cast<double>(g[i + j]);
  for (; i < n; ++i) acc[i % 8] += static_cast<double>(g[i]) * static_cast<double>(g[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <typename T>
SCORELAB_CLONES void adam_impl(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                               const AdamScalars& s) {
  const T b1 = static_cast<T>(s.beta1), c1 = static_cast<T>(1 - s.beta1);
  const T b2 = static_cast<T>(s.beta2), c2 = static_cast<T>(1 - s.beta2);
  const T eps = static_cast<T>(s.eps), sb2 = static_cast<T>(s.sqrt_bias2);
  const T step = static_cast<T>(-s.step_size), clip = static_cast<T>(s.clip);
  if (s.l2 == 0 && s.decay == 1) {  // plain Adam (the common case: no extra multiply-adds)
    for (int64_t i = 0; i < n; ++i) {
      const T gi = g[i] * clip;
      const T mi = m[i] * b1 + gi * c1;
      const T vi = v[i] * b2 + gi * gi * c2;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] + step * (mi / (std::sqrt(vi) / sb2 + eps));
    }
    return;
  }
  // torch.optim.Adam(weight_decay): grad + wd p; torch.optim.AdamW: p (1 - lr wd), then Adam.
  const T l2 = static_cast<T>(s.l2), decay = static_cast<T>(s.decay);
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i] * clip + l2 * p[i];
    const T mi = m[i] * b1 + gi * c1;
    const T vi = v[i] * b2 + gi * gi * c2;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay + step * (mi / (std::sqrt(vi) / sb2 + eps));
  }
}

template <typename T>
SCORELAB_CLONES void ema_impl(const T* __restrict p, T* __restrict shadow, int64_t n, double weight) {
  const T w = static_cast<T>(weight);
  if (weight < 0.5) {
    for (int64_t i = 0; i < n; ++i) shadow[i] = shadow[i] + w * (p[i] - shadow[i]);
  } else {
    const T w1 = static_cast<T>(1 - weight);
    for (int64_t i = 0; i < n; ++i) shadow[i] = p[i] - (p[i] - shadow[i]) * w1;
  }
}

// Adam then EMA over cache-sized chunks, so the EMA reads p while it is still in cache.
template <typename T>
void adam_ema_chunked(T* p, const T* g, T* m, T* v, T* shadow, int64_t n, const AdamScalars& s) {
  constexpr int64_t kChunk = 4096;
  for (int64_t b = 0; b < n; b += kChunk) {
    int64_t len = n - b < kChunk ? n - b : kChunk;
    adam_impl(p + b, g + b, m + b, v + b, len, s);
    if (shadow) ema_impl(p + b, shadow + b, len, s.ema_weight);
  }
}

}  // namespace

double sum_squares(const float* g, int64_t n) { return sum_squares_impl(g, n); }
double sum_squares(const double* g, int64_t n) { return sum_squares_impl(g, n); }

void adam_ema_update(float* p, const float* g, float* m, float* v, float* shadow, int64_t n, const AdamScalars& s) {
  adam_ema_chunked(p, g, m, v, shadow, n, s);
}
void adam_ema_update(double* p, const double* g, double* m, double* v, double* shadow, int64_t n,
                     const AdamScalars& s) {
  adam_ema_chunked(p, g, m, v, shadow, n, s);
}
void ema_update(const float* p, float* shadow, int64_t n, double w) { ema_impl(p, shadow, n, w); }
void ema_update(const double* p, double* shadow, int64_t n, double w) { ema_impl(p, shadow, n, w); }

}  // namespace scorelab
