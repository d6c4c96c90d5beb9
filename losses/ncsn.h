// NCSN's multi-scale denoising score matching (Song & Ermon 2019, eq. 5-6):
//   L = (1/L) sum_l lambda(sigma_l) 1/2 E || s(x~, sigma_l) + (x~ - x) / sigma_l^2 ||^2,
//   lambda(sigma) = sigma^2,  x~ = x + sigma_l z,  sigma_1 > ... > sigma_L geometric.
// On an SDE, level l is the time t_l with sigma(t_l) = sigma_l (for VE, t_l = log(sigma_l /
// sigma_min) / log(sigma_max / sigma_min)), and x~ = alpha(t_l) x + sigma_l z. The levels
// default to the SDE's own range sigma(eps) .. sigma(T); one level per example, uniformly.
#pragma once
#include <memory>

#include "core/table_cache.h"
#include "losses/loss.h"

namespace scorelab {

class Config;

struct NCSNLossOptions {
  int64_t levels = 10;      // L
  double sigma_min = 0;     // 0: sigma(eps) of the SDE
  double sigma_max = 0;     // 0: sigma(T) of the SDE
  double eps = 1e-5;
  static NCSNLossOptions from(const Config& cfg);
};

class NCSNLoss : public Loss {
 public:
  NCSNLoss(NCSNLossOptions o, const LossContext& ctx);
  std::string name() const override { return "ncsn"; }
  LossResult operator()(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const override;
  std::vector<std::string> part_names() const override { return {"ncsn"}; }

 private:
  NCSNLossOptions o_;
  at::Tensor sigmas_, t_levels_;
  std::shared_ptr<TableCache> cache_ = std::make_shared<TableCache>();  // t_levels_ on the data's device and dtype
};

}  // namespace scorelab
