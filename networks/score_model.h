// A ScoreModel answers every question a loss or sampler asks — eps(x,t), score(x,t),
// x0(x,t) (Tweedie denoiser), v(x,t) — whatever it was trained to predict, and counts its
// evaluations (NFE). Trained networks and exact oracle scores both implement it.
#pragma once
#include <atomic>
#include <memory>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "networks/parameterization.h"
#include "sde/sde.h"

namespace scorelab {

class ScoreModel {
 public:
  explicit ScoreModel(std::shared_ptr<const SDE> sde) : sde_(std::move(sde)) {}
  virtual ~ScoreModel() = default;

  const SDE& sde() const { return *sde_; }
  const std::shared_ptr<const SDE>& sde_ptr() const { return sde_; }

  at::Tensor eps(const at::Tensor& x, const at::Tensor& t) const;
  at::Tensor score(const at::Tensor& x, const at::Tensor& t) const;
  at::Tensor x0(const at::Tensor& x, const at::Tensor& t) const;
  at::Tensor v(const at::Tensor& x, const at::Tensor& t) const;
  at::Tensor mu(const at::Tensor& x, const at::Tensor& t) const;  // DDPM posterior mean (ddpm SDE)
  virtual Parameterization kind() const = 0;  // what predict() returns
  // The model's own prediction (of kind()), counted as one evaluation.
  at::Tensor prediction(const at::Tensor& x, const at::Tensor& t) const { return converted(x, t, kind()); }
  // Converts a prediction `pred` of kind `from` at (x, t) to kind `to` (no evaluation).
  at::Tensor convert(const at::Tensor& pred, Parameterization from, Parameterization to, const at::Tensor& x,
                     const at::Tensor& t) const;

  int64_t nfe() const { return nfe_.load(); }
  // Whether an evaluation needs autograd (an energy model differentiates its output); samplers
  // run the others under InferenceMode.
  virtual bool needs_autograd() const { return false; }

  // Parameters to train (empty for an oracle); the module to save and load.
  virtual torch::nn::Module* module() { return nullptr; }

  // Class labels (networks/guidance.h). The number of classes a model tells apart (0: none);
  // label num_classes() is the null class, "no label", whose prediction is the unconditional one.
  virtual int64_t num_classes() const { return 0; }
  // The model's own prediction (of kind()) given labels y (int64 [B]), counted as one evaluation.
  at::Tensor labelled_prediction(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const {
    ++nfe_;
    return predict_labelled(x, t, y);
  }

 protected:
  // The model's own prediction at (x, t) and its kind. One call = one function evaluation.
  virtual at::Tensor predict(const at::Tensor& x, const at::Tensor& t) const = 0;
  // The same given class labels; models without classes refuse.
  virtual at::Tensor predict_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const;

 private:
  at::Tensor converted(const at::Tensor& x, const at::Tensor& t, Parameterization want) const;
  std::shared_ptr<const SDE> sde_;
  mutable std::atomic<int64_t> nfe_{0};
};

// The interface every score network implements: forward(x [B, ...], c [B]) -> [B, ...], c the
// conditioning value below. A class-conditional network (num_classes() > 0) also takes labels
// y (int64 [B], num_classes() = the null class) through a learned class embedding added to its
// time embedding; its forward without labels is the null class's.
class ScoreNetImpl : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& x, const at::Tensor& t) = 0;
  virtual int64_t num_classes() const { return 0; }
  virtual at::Tensor forward_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y);
};

// The conditioning (sde/sde.h) by name; "auto" takes the SDE's natural_conditioning().
Conditioning parse_conditioning(const std::string& name, const SDE& sde);
at::Tensor conditioning_value(Conditioning c, const SDE& sde, const at::Tensor& t);

// A trained network with a parameterization.
class NeuralScoreModel : public ScoreModel {
 public:
  NeuralScoreModel(std::shared_ptr<ScoreNetImpl> net, std::shared_ptr<const SDE> sde, Parameterization p,
                   Conditioning c = Conditioning::time)
      : ScoreModel(std::move(sde)), net_(std::move(net)), p_(p), c_(c) {}
  torch::nn::Module* module() override { return net_.get(); }
  Parameterization kind() const override { return p_; }
  int64_t num_classes() const override { return net_->num_classes(); }

 protected:
  at::Tensor predict(const at::Tensor& x, const at::Tensor& t) const override {
    return net_->forward(x, conditioning_value(c_, sde(), t));
  }
  at::Tensor predict_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const override {
    return net_->forward_labelled(x, conditioning_value(c_, sde(), t), y);
  }

 private:
  std::shared_ptr<ScoreNetImpl> net_;
  Parameterization p_;
  Conditioning c_;
};

}  // namespace scorelab
