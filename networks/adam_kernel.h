// The element loops of the fused optimizer step (networks/fused_adam.h) on raw CPU buffers. Kept
// free of ATen so this file can be compiled for several instruction sets (AVX-512, AVX2, plain
// x86-64, chosen at load time) and with sqrt vectorised; built without floating-point contraction
// (CMakeLists.txt), so every clone rounds alike and a run's numbers do not depend on the CPU.
#pragma once
#include <cstdint>

namespace scorelab {

// The per-step constants of Adam as torch.optim.Adam (1.13) computes them, the clipping factor
// and the EMA weight, each rounded once to the buffer's type.
struct AdamScalars {
  double beta1, beta2;          // moment decays
  double eps;                   // added to sqrt(v) / sqrt(1 - beta2^t)
  double sqrt_bias2;            // sqrt(1 - beta2^t)
  double step_size;             // lr / (1 - beta1^t)
  double clip;                  // gradient factor (1: no clipping)
  double ema_weight;            // 1 - decay: shadow moves this far towards the new weights
  double l2 = 0;                // Adam's weight decay: g' = clip g + l2 p
  double decay = 1;             // AdamW's decoupled decay: p = decay p (1 - lr wd) before the update
};

// Sum of squares of g[0..n) in double.
double sum_squares(const float* g, int64_t n);
double sum_squares(const double* g, int64_t n);

// One pass over n elements: g' = clip g + l2 p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
// p = decay p - step_size m / (sqrt(v) / sqrt_bias2 + eps); shadow = lerp(shadow, p, ema_weight)
// (torch's lerp: the formula from the nearer end). `shadow` may be null (no EMA).
void adam_ema_update(float* p, const float* g, float* m, float* v, float* shadow, int64_t n, const AdamScalars& s);
void adam_ema_update(double* p, const double* g, double* m, double* v, double* shadow, int64_t n,
                     const AdamScalars& s);
// Only the EMA (for parameters without a gradient this step).
void ema_update(const float* p, float* shadow, int64_t n, double ema_weight);
void ema_update(const double* p, double* shadow, int64_t n, double ema_weight);

}  // namespace scorelab
