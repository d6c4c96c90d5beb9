#include "networks/parameterization.h"

#include <stdexcept>

#include <ATen/ATen.h>

namespace scorelab {

Parameterization parse_parameterization(const std::string& name) {
  if (name == "eps") return Parameterization::eps;
  if (name == "x0") return Parameterization::x0;
  if (name == "score") return Parameterization::score;
  if (name == "v") return Parameterization::v;
  if (name == "mu") return Parameterization::mu;
  throw std::invalid_argument("'" + name + "' is not a parameterization (eps, x0, score, v, mu)");
}

std::string to_string(Parameterization p) {
  switch (p) {
    case Parameterization::eps: return "eps";
    case Parameterization::x0: return "x0";
    case Parameterization::score: return "score";
    case Parameterization::v: return "v";
    case Parameterization::mu: return "mu";
  }
  return "?";
}

at::Tensor prediction_to_eps(Parameterization p, const at::Tensor& pred, const at::Tensor& x, const at::Tensor& alpha,
                             const at::Tensor& sigma) {
  switch (p) {
    case Parameterization::eps: return pred;
    case Parameterization::x0: return (x - alpha * pred) / sigma;
    case Parameterization::score: return -sigma * pred;
    // sigma x + alpha v = (alpha^2 + sigma^2) eps
    case Parameterization::v: return (sigma * x + alpha * pred) / (alpha * alpha + sigma * sigma);
    case Parameterization::mu: break;
  }
  throw std::logic_error("prediction_to_eps: mu needs the DDPM chain (ScoreModel converts it)");
}

at::Tensor eps_to_prediction(Parameterization p, const at::Tensor& eps, const at::Tensor& x, const at::Tensor& alpha,
                             const at::Tensor& sigma) {
  switch (p) {
    case Parameterization::eps: return eps;
    case Parameterization::x0: return (x - sigma * eps) / alpha;
    case Parameterization::score: return -eps / sigma;
    case Parameterization::v: return alpha * eps - sigma * (x - sigma * eps) / alpha;
    case Parameterization::mu: break;
  }
  throw std::logic_error("eps_to_prediction: mu needs the DDPM chain (ScoreModel converts it)");
}

}  // namespace scorelab
