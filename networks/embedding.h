// Noise-level embeddings for score networks.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace scorelab {

// Sinusoidal embedding of scale * c (Vaswani et al. 2017, sec. 3.5; DDPM appendix B), c the
// conditioning value (networks/score_model.h: 1000 t spans DDPM's step index 0..1000).
at::Tensor sinusoidal_embedding(const at::Tensor& c, int64_t dim, double scale = 1.0);

// The same, its frequencies computed once per dtype and device (a network embeds every step).
class SinusoidalEmbedding {
 public:
  explicit SinusoidalEmbedding(int64_t dim, double scale = 1.0) : dim_(dim), scale_(scale) {}
  at::Tensor operator()(const at::Tensor& c);

 private:
  int64_t dim_;
  double scale_;
  at::Tensor freqs_;  // [dim / 2] in the last call's dtype and device
};

// Random Fourier features [sin(2 pi W c), cos(2 pi W c)], W ~ N(0, s^2) fixed at construction
// (Tancik et al. 2020; score_sde's GaussianFourierProjection, meant for c = log sigma).
class FourierEmbeddingImpl : public torch::nn::Module {
 public:
  FourierEmbeddingImpl(int64_t dim, double scale, uint64_t seed);
  at::Tensor forward(const at::Tensor& t);

 private:
  at::Tensor W_;
};
TORCH_MODULE(FourierEmbedding);

// Re-initialises every weight matrix (and its bias) with U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
// PyTorch's default for Linear and Conv, from an explicit generator: runs are reproducible
// without touching torch's global RNG.
void init_parameters(torch::nn::Module& m, at::Generator& gen);

}  // namespace scorelab
