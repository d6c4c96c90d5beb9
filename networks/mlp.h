// Time-conditioned MLP score network for low-dimensional data: [x, emb(t)] -> hidden layers
// -> output of x's shape; class-conditional: [x, emb(t) + E[y]], E a learned class embedding.
#pragma once
#include <string>

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/embedding.h>

#include "networks/embedding.h"
#include "networks/score_model.h"

namespace scorelab {

class Config;

struct MLPOptions {
  int64_t dim = 2;          // data dimension (filled in from the data set)
  int64_t out_dim = 0;      // output width; 0: dim (a vector field), 1: a scalar (energy)
  int64_t hidden = 128;     // width
  int64_t depth = 3;        // hidden layers
  std::string activation = "silu";     // silu | relu | gelu | tanh | softplus
  std::string embedding = "sinusoidal";  // sinusoidal | fourier
  int64_t embed_dim = 32;
  double fourier_scale = 16.0;
  uint64_t seed = 0;        // for the fixed Fourier features
  int64_t classes = 0;      // > 0: a learned class embedding (classes + 1 rows, the last the null
                            // class) added to the noise-level embedding
  static MLPOptions from(const Config& cfg, int64_t dim, uint64_t seed);
};

class MLPImpl : public ScoreNetImpl {
 public:
  explicit MLPImpl(MLPOptions o);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t) override;
  at::Tensor forward_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) override;
  int64_t num_classes() const override { return o_.classes; }
  const MLPOptions& options() const { return o_; }
  at::Tensor embed(const at::Tensor& t);  // the noise-level embedding [B, embed_dim]

 private:
  at::Tensor run(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y);
  MLPOptions o_;
  FourierEmbedding fourier_{nullptr};
  torch::nn::Embedding class_embed_{nullptr};  // [classes + 1, embed_dim]
  SinusoidalEmbedding sinusoidal_{o_.embed_dim};
  torch::nn::Sequential body_{nullptr};  // Linear, activation, ..., Linear (parameter names body.<i>.*)
  std::vector<torch::nn::Linear> linears_;  // body_'s Linear layers, called directly (no type-erased dispatch)
};

}  // namespace scorelab
