// Energy parameterization: the network outputs a scalar E(x, t) per example and the score is
// s(x, t) = -grad_x E(x, t), by autograd (Salimans & Ho 2021, "Should EBMs model the energy or
// the score?"). The graph is kept when gradients are enabled, so every loss — including the
// ones that differentiate the score again (sliced, implicit) — trains it; samplers call it
// under no-grad and get a plain tensor back.
#pragma once
#include "networks/score_model.h"

namespace scorelab {

class EnergyScoreModel : public ScoreModel {
 public:
  // `net` maps x [B, ...] to a scalar per example (its outputs are summed: [B, 1] for an MLP,
  // [B, 1, H, W] for a U-Net with one output channel).
  EnergyScoreModel(std::shared_ptr<ScoreNetImpl> net, std::shared_ptr<const SDE> sde,
                   Conditioning c = Conditioning::time)
      : ScoreModel(std::move(sde)), net_(std::move(net)), c_(c) {}
  torch::nn::Module* module() override { return net_.get(); }
  Parameterization kind() const override { return Parameterization::score; }
  bool needs_autograd() const override { return true; }
  at::Tensor energy(const at::Tensor& x, const at::Tensor& t) const;

 protected:
  at::Tensor predict(const at::Tensor& x, const at::Tensor& t) const override;

 private:
  std::shared_ptr<ScoreNetImpl> net_;
  Conditioning c_;
};

}  // namespace scorelab
