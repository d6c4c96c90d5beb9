// Class labels and classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion
// Guidance", eq. 6): a class-conditional model trained with label dropout predicts both
// eps(x, c) and the unconditional eps(x, null); sampling with guidance scale w uses
//   eps~(x, c) = (1 + w) eps(x, c) - w eps(x, null)
// (w = 0: the conditional model; w = -1: the unconditional one; larger w trades diversity for
// class fidelity). A LabelledModel is a score model — the labels (and w) fixed for one batch —
// so every loss and every sampler runs on it unchanged.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>

#include "networks/score_model.h"

namespace scorelab {

// `base` given labels y (int64 [B], on any device; base.num_classes() is the null class) and
// guidance scale w. With w = 0 it is base's conditional prediction (of base's kind); otherwise
// eps~ above, the conditional and unconditional predictions computed in one call on a doubled
// batch. One evaluation of this model = one call of base (nfe counts calls, as for any model).
class LabelledModel : public ScoreModel {
 public:
  LabelledModel(const ScoreModel& base, at::Tensor y, double guidance = 0);
  Parameterization kind() const override { return w_ == 0 ? base_.kind() : Parameterization::eps; }
  bool needs_autograd() const override { return base_.needs_autograd(); }
  int64_t num_classes() const override { return base_.num_classes(); }
  const at::Tensor& labels() const { return y_; }

 protected:
  at::Tensor predict(const at::Tensor& x, const at::Tensor& t) const override;

 private:
  const ScoreModel& base_;
  at::Tensor y_;
  double w_;
};

// Which labels samples get (sample.classes): a list of class indices cycled over the samples
// (sample i gets list[i mod len]), "uniform" (each class in turn: i mod num_classes, so every
// class gets n / num_classes samples), "random" (drawn uniformly from a generator keyed by the
// sampling seed, so sample i's label does not depend on the batch size), or "none" (the null
// class: unconditional samples). Parsed without knowing the model; resolved against it.
struct ClassChoice {
  std::string mode = "none";  // none | uniform | random | list
  std::vector<int64_t> list;
  static ClassChoice parse(const std::vector<std::string>& words);  // throws std::invalid_argument
  std::string str() const;
  // Labels of samples first .. first + count - 1 (int64 [count], CPU), for a model with
  // `num_classes` classes (the null class is num_classes).
  at::Tensor labels(int64_t num_classes, uint64_t seed, int64_t first, int64_t count) const;
};

// Label dropout for training: each label replaced by the null class with probability p, drawn
// from `gen` (the trainer's data generator, so a resumed run drops the same labels).
at::Tensor drop_labels(const at::Tensor& y, double p, int64_t num_classes, at::Generator& gen);

}  // namespace scorelab
