// What a network predicts, and the exact conversions between predictions under the kernel
// x_t = alpha x0 + sigma eps:
//   score = -eps / sigma,  x0 = (x_t - sigma eps) / alpha  (Tweedie),  v = alpha eps - sigma x0
//   (Salimans & Ho 2022, sec. 4; the v formulas below hold for any alpha, sigma, not only VP).
#pragma once
#include <string>

#include <ATen/core/Tensor.h>

namespace scorelab {

// mu: DDPM's posterior mean mu~(x_t, x0) = c0 x0 + ct x_t (discrete VP chains only; converted
// through x0 by ScoreModel, which knows the chain).
enum class Parameterization { eps, x0, score, v, mu };

Parameterization parse_parameterization(const std::string& name);  // throws std::invalid_argument
std::string to_string(Parameterization p);

// Converts a prediction of kind `p` at (x, alpha, sigma) to eps. alpha, sigma broadcast with x.
at::Tensor prediction_to_eps(Parameterization p, const at::Tensor& pred, const at::Tensor& x, const at::Tensor& alpha,
                             const at::Tensor& sigma);
// Converts eps to a prediction of kind `p` (the inverse of prediction_to_eps).
at::Tensor eps_to_prediction(Parameterization p, const at::Tensor& eps, const at::Tensor& x, const at::Tensor& alpha,
                             const at::Tensor& sigma);

}  // namespace scorelab
