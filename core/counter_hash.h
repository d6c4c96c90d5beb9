// The hashing half of counter-based noise (core/noise.h) as one loop over raw CPU buffers: the
// same integers as the tensor version, element by element. Kept free of ATen so it can be built
// for several instruction sets (chosen at load time) and vectorised.
#pragma once
#include <cstdint>

namespace scorelab {

// lowbias32 (C. Wellons): the bijective 32-bit mixer of core/noise.cpp.
inline uint32_t lowbias32(uint32_t v) {
  v ^= v >> 16;
  v *= 0x7feb352dU;
  v ^= v >> 15;
  v *= 0x846ca68bU;
  v ^= v >> 16;
  return v;
}

// For rows b < B (sample indices[b]) and elements e < P: the two uniforms in (0, 1) of Box–Muller,
// u1[b P + e], u2[b P + e], from the 32-bit key of (seed, stream). Exactly core/noise.cpp's
// tensor formulas: (h + 0.5) / 2^32 in double, rounded once to float for the float version.
void counter_uniforms(const int64_t* indices, int64_t B, int64_t P, uint32_t key, double* u1, double* u2);
void counter_uniforms(const int64_t* indices, int64_t B, int64_t P, uint32_t key, float* u1, float* u2);

}  // namespace scorelab
