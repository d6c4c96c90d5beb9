#include "networks/activation_kernel.h"

#include "core/simd_clones.h"

namespace scorelab {
namespace {
template <typename T>
SCORELAB_CLONES void silu_grad_impl(const T* __restrict g, const T* __restrict h, const T* __restrict s,
                                    T* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] * (s[i] * (T(1) + h[i] * (T(1) - s[i])));
}
}  // namespace

void silu_grad(const float* g, const float* h, const float* s, float* out, int64_t n) {
  silu_grad_impl(g, h, s, out, n);
}
void silu_grad(const double* g, const double* h, const double* s, double* out, int64_t n) {
  silu_grad_impl(g, h, s, out, n);
}

}  // namespace scorelab
