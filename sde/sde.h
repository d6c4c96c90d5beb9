// The forward SDE dx = f(x,t) dt + g(t) dw with Gaussian perturbation kernel
// q(x_t | x_0) = N(alpha(t) x_0, sigma(t)^2 I)  (Song et al. 2021, eq. 5).
// Samplers, losses and models see only this interface: no type switches on the SDE.
#pragma once
#include <memory>
#include <string>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace scorelab {

struct DDPMChain;

// The value a network is conditioned on: continuous time (1000 t, DDPM's step scale), log sigma
// (EDM's c_noise = ln(sigma)/4; VE / NCSN), or the discrete step index i = round(N t) of a
// DDPM chain. Each SDE declares the one that fits it (networks/score_model.h computes it).
enum class Conditioning { time, log_sigma, index };

class SDE {
 public:
  virtual ~SDE() = default;
  virtual std::string name() const = 0;
  virtual double T() const { return 1.0; }

  virtual at::Tensor drift(const at::Tensor& x, const at::Tensor& t) const = 0;  // f(x, t)
  // c(t) [B] where the drift is linear, f(x, t) = c(t) x (VP, sub-VP, DDPM: -beta/2; VE: 0); an
  // undefined tensor otherwise. Samplers fold a step into a few operations with it.
  virtual at::Tensor drift_coefficient(const at::Tensor& /*t*/) const { return at::Tensor(); }
  virtual at::Tensor diffusion(const at::Tensor& t) const = 0;                    // g(t), [B]
  virtual at::Tensor alpha(const at::Tensor& t) const = 0;                        // [B]
  virtual at::Tensor sigma(const at::Tensor& t) const = 0;                        // [B]
  // d lambda / dt, lambda = log(alpha^2 / sigma^2) (closed form per SDE).
  virtual at::Tensor dlog_snr_dt(const at::Tensor& t) const = 0;
  // Prior p_T from standard normal noise z (VP: z; VE: sigma_max z) and its log-density.
  virtual double prior_std() const { return 1.0; }
  at::Tensor prior_from_normal(const at::Tensor& z) const { return prior_std() * z; }
  at::Tensor prior_log_prob(const at::Tensor& x) const;  // [B]

  // The conditioning `model.conditioning: auto` picks for networks on this SDE.
  virtual Conditioning natural_conditioning() const { return Conditioning::time; }

  // The DDPM chain beta_1..beta_N when this SDE is a discrete-time VP chain, else nullptr.
  virtual const DDPMChain* ddpm_chain() const { return nullptr; }

  // One forward step of size dt ending at t: x_t ~ x + f_i + G_i z. Default Euler–Maruyama
  // (f dt, g sqrt(dt)); VP-type SDEs use DDPM's step, VE NCSN's (Song et al. 2021, app. E, the
  // `discretize` of score_sde), which the reverse-diffusion predictor inverts.
  struct Discrete {
    at::Tensor f, G;  // f like x, G [B]
  };
  virtual Discrete discretize(const at::Tensor& x, const at::Tensor& t, double dt) const;

  // lambda(t) = log(alpha^2 / sigma^2).
  at::Tensor log_snr(const at::Tensor& t) const;
  at::Tensor prior_sample(at::IntArrayRef shape, at::Generator& gen, const at::TensorOptions& opts) const;
};

// The time t in [lo, hi] where the increasing sigma(t) of `sde` equals s (bisection, float64).
double time_of_sigma(const SDE& sde, double s, double lo, double hi);

// Reverse-time drift f - g^2 score (Song et al. 2021, eq. 6) or, with probability_flow,
// the probability-flow ODE's f - g^2 score / 2 (eq. 13). Written once for every SDE.
at::Tensor reverse_drift(const SDE& sde, const at::Tensor& x, const at::Tensor& t, const at::Tensor& score,
                         bool probability_flow);

}  // namespace scorelab
