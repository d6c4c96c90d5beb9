// EDM preconditioning (Karras et al. 2022, Table 1, "Ours"), on any SDE x_t = alpha x0 + sigma eps:
// with the EDM noise level s = sigma / alpha and the unscaled input x^ = x_t / alpha,
//   D(x^; s) = c_skip(s) x^ + c_out(s) F(c_in(s) x^; c_noise(s))      (the denoiser: x0)
//   c_skip = sd^2 / (s^2 + sd^2),  c_out = s sd / sqrt(s^2 + sd^2),
//   c_in = 1 / sqrt(s^2 + sd^2),  c_noise = ln(s) / 4,  sd = sigma_data.
// On VE (alpha = 1) this is EDM's network exactly; on VP it is EDM's VP case (their eq. 7-8 scale
// the input by 1/alpha). The network F sees inputs and targets of unit variance at every noise
// level; the DSM loss with `weighting: edm` then trains what the EDM paper trains.
#pragma once
#include <memory>

#include "networks/score_model.h"

namespace scorelab {

struct EDMCoefficients {
  at::Tensor c_skip, c_out, c_in, c_noise;
};
// The four coefficients at EDM noise levels s (any shape), in s's dtype.
EDMCoefficients edm_coefficients(const at::Tensor& s, double sigma_data);

// A network F under EDM preconditioning; it predicts x0 (kind() == x0), so every conversion
// (eps, score, v) and every loss and sampler work unchanged.
class EDMScoreModel : public ScoreModel {
 public:
  EDMScoreModel(std::shared_ptr<ScoreNetImpl> net, std::shared_ptr<const SDE> sde, double sigma_data)
      : ScoreModel(std::move(sde)), net_(std::move(net)), sigma_data_(sigma_data) {}
  torch::nn::Module* module() override { return net_.get(); }
  Parameterization kind() const override { return Parameterization::x0; }
  double sigma_data() const { return sigma_data_; }
  int64_t num_classes() const override { return net_->num_classes(); }

 protected:
  at::Tensor predict(const at::Tensor& x, const at::Tensor& t) const override;
  at::Tensor predict_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const override;

 private:
  at::Tensor preconditioned(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) const;
  std::shared_ptr<ScoreNetImpl> net_;
  double sigma_data_;
};

}  // namespace scorelab
