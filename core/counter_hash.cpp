#include "core/counter_hash.h"

#include "core/simd_clones.h"

namespace scorelab {
namespace {

template <typename T>
SCORELAB_CLONES void uniforms_of_row(uint32_t row, int64_t P, T* __restrict u1, T* __restrict u2) {
  const double scale = 1.0 / 4294967296.0;
  for (int64_t e = 0; e < P; ++e) {
    uint32_t h = lowbias32(lowbias32(row ^ static_cast<uint32_t>(2 * e)));
    uint32_t h2 = lowbias32(lowbias32(row ^ static_cast<uint32_t>(2 * e + 1)));
    u1[e] = static_cast<T>((static_cast<double>(h) + 0.5) * scale);
    u2[e] = static_cast<T>((static_cast<double>(h2) + 0.5) * scale);
  }
}

template <typename T>
void uniforms(const int64_t* indices, int64_t B, int64_t P, uint32_t key, T* u1, T* u2) {
  for (int64_t b = 0; b < B; ++b) {
    uint32_t row = lowbias32(static_cast<uint32_t>(indices[b]) ^ key);
    row = lowbias32(row + 0x9e3779b9U);
    uniforms_of_row(row, P, u1 + b * P, u2 + b * P);
  }
}

}  // namespace

void counter_uniforms(const int64_t* indices, int64_t B, int64_t P, uint32_t key, double* u1, double* u2) {
  uniforms(indices, B, P, key, u1, u2);
}
void counter_uniforms(const int64_t* indices, int64_t B, int64_t P, uint32_t key, float* u1, float* u2) {
  uniforms(indices, B, P, key, u1, u2);
}

}  // namespace scorelab
