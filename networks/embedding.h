// Noise-level embeddings for score networks.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace scorelab {

// Sinusoidal embedding of t (Vaswani et al. 2017, sec. 3.5; DDPM appendix B), applied to
// scale * t so that t in [0, 1] spans the same frequencies as DDPM's step index 0..1000.
at::Tensor sinusoidal_embedding(const at::Tensor& t, int64_t dim, double scale = 1000.0);

// Random Fourier features [sin(2 pi W t), cos(2 pi W t)], W ~ N(0, s^2) fixed at construction
// (Tancik et al. 2020; score_sde's GaussianFourierProjection).
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
