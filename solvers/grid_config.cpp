#include "solvers/grid_config.h"

#include <cmath>
#include <sstream>
#include <vector>

#include <ATen/ATen.h>

#include "core/config.h"
#include "sde/ddpm.h"
#include "sde/sde.h"
#include "solvers/time_grid.h"

namespace scorelab {

GridSpec continuous_grid(const Config& c, const SDE& sde, int64_t default_steps, const char* default_grid) {
  GridSpec g;
  int64_t steps = c.get_int("steps", default_steps, 1, 1000000);
  std::string kind = c.get_choice("grid", default_grid, {"uniform", "quadratic", "log_snr", "karras"});
  double eps = c.get_double("eps", 1e-3, 0.0, sde.T());
  if (!(eps < sde.T())) {
    std::ostringstream os;
    os << "must be < T = " << sde.T();
    c.fail("eps", os.str());
  }
  if ((kind == "log_snr" || kind == "karras") && !(eps > 0)) c.fail("eps", "must be > 0 for a " + kind + " grid");
  double rho = kind == "karras" ? c.get_positive("rho", 7.0) : 7.0;
  g.denoise = c.get_bool("denoise", false);
  g.grid = make_time_grid(kind, sde, steps, eps, rho);
  return g;
}

GridSpec chain_grid(const Config& c, const DDPMChain& chain, int64_t default_steps) {
  GridSpec g;
  int64_t steps = c.get_int("steps", std::min(default_steps, chain.N), 1, chain.N);
  std::string sub = c.get_choice("subsequence", "uniform", {"uniform", "quadratic"});
  std::vector<double> idx;
  for (int64_t k = 0; k < steps; ++k) {
    double u = static_cast<double>(k) / steps;  // 0-based DDIM sequence, step i = seq + 1
    double seq = sub == "uniform" ? std::floor(u * chain.N) : std::floor(std::pow(u * std::sqrt(0.8 * chain.N), 2));
    idx.push_back(seq + 1);
  }
  std::vector<double> times;
  for (auto it = idx.rbegin(); it != idx.rend(); ++it) times.push_back(*it / chain.N);
  times.push_back(0.0);
  g.grid = at::tensor(times, at::kDouble);
  return g;
}

std::string fixed_by_alias(const Config& c, const std::string& key, const std::string& value, const std::string& canonical) {
  if (c.has(key))
    c.fail(key, "type '" + c.get_string("type") + "' is " + canonical + " with " + key + " " + value + "; to set " + key +
                    " use type: " + canonical);
  return value;
}

double fixed_by_alias(const Config& c, const std::string& key, double value, const std::string& canonical) {
  std::ostringstream os;
  os << value;
  fixed_by_alias(c, key, os.str(), canonical);
  return value;
}

}  // namespace scorelab
