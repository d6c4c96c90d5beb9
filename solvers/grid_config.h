// The time grid of a sampler from its `sample:` section, shared by every sampler factory.
#pragma once
#include <string>

#include <ATen/core/Tensor.h>

namespace scorelab {

class Config;
class SDE;
struct DDPMChain;

struct GridSpec {
  at::Tensor grid;       // float64 [K + 1], decreasing
  bool denoise = false;  // a final Tweedie denoising step at t_K (one more NFE)
};

// steps, grid (uniform | quadratic | log_snr | karras), eps, rho, denoise on a continuous grid
// from T to eps (solvers/time_grid.h).
GridSpec continuous_grid(const Config& c, const SDE& sde, int64_t default_steps, const char* default_grid);

// `steps` of a DDPM chain's N, spaced uniformly or quadratically (DDIM sec. 5 / app. D.2), as
// times i/N, then t = 0 where the last step returns the Tweedie estimate x0_hat.
GridSpec chain_grid(const Config& c, const DDPMChain& chain, int64_t default_steps);

// A k-diffusion alias that stands for a sampler with one setting fixed (`euler` is
// euler_ancestral with eta 0): `value`, or a config error if the section sets `key` itself.
double fixed_by_alias(const Config& c, const std::string& key, double value, const std::string& canonical);
std::string fixed_by_alias(const Config& c, const std::string& key, const std::string& value, const std::string& canonical);

}  // namespace scorelab
