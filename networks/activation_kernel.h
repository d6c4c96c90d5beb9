// The element loop of SiLU's derivative on raw CPU buffers, for the MLP's fused backward
// (networks/mlp.cpp). ATen-free and built like networks/adam_kernel.cpp (one clone per
// instruction set, no floating-point contraction).
#pragma once
#include <cstdint>

namespace scorelab {

// out = g * s * (1 + h * (1 - s)) with s = sigmoid(h) saved by the forward: SiLU's derivative
// (d/dh h sigmoid(h)) without recomputing the exponential — ATen's silu_backward formula.
void silu_grad(const float* g, const float* h, const float* s, float* out, int64_t n);
void silu_grad(const double* g, const double* h, const double* s, double* out, int64_t n);

}  // namespace scorelab
