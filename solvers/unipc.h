// UniPC (Zhao et al. 2023, "UniPC", Algorithms 1-3; diffusers' UniPCMultistepScheduler with
// predict_x0): a multistep predictor (UniP-p) and corrector (UniC-p) of the probability-flow
// ODE in lambda = log(alpha / sigma) with data prediction. At step i the model is evaluated
// once, at the predicted x_i; UniC then corrects x_i with that evaluation (no extra NFE) and
// UniP-p steps on from the corrected x_i:
//   x_{i+1} = (sigma_{i+1} / sigma_i) x_i - alpha_{i+1} (e^{-h} - 1) m_i - alpha_{i+1} B(h) sum_k rho_k D_k,
//   D_k = (m_{i-k} - m_i) / r_k,  r_k = (lambda_{i-k} - lambda_i) / h,
// with the rho solving R rho = b, R_jk = r_k^{j-1}, b_j = phi_{j+1}(h) j! / B(h) (the paper's
// eq. 8; rho = 1/2 at order 2), B(h) = h (variant bh1) or e^h - 1 (bh2). UniC adds the new
// evaluation as r = 1. NFE = steps; UniP-p with UniC has order p + 1. The first steps warm up
// with the orders available; lower_order_final lowers the order of the last steps (the final
// predictor is then first order and uncorrected, which caps the global order at 2).
#pragma once
#include <memory>

#include "solvers/sampler.h"

namespace scorelab {

class Config;
class SDE;

struct UniPCOptions {
  int order = 2;  // of the predictor, 1..3
  bool bh2 = true;
  bool lower_order_final = true;
  bool corrector = true;
};

class UniPCStep : public StepRule {
 public:
  explicit UniPCStep(UniPCOptions o) : o_(o) {}
  std::unique_ptr<RuleState> state() const override;
  at::Tensor step(const ScoreModel& model, const at::Tensor& x, StepContext& ctx) const override;

 private:
  UniPCOptions o_;
};

// unipc (aliases uni_pc: variant bh1, uni_pc_bh2: variant bh2)
std::shared_ptr<Sampler> unipc_sampler_from(const Config& c, const SDE& sde);

}  // namespace scorelab
