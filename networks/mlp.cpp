#include "networks/mlp.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "core/config.h"

namespace scorelab {

MLPOptions MLPOptions::from(const Config& cfg, int64_t dim, uint64_t seed) {
  MLPOptions o;
  o.dim = dim;
  o.seed = seed;
  o.hidden = cfg.get_int("hidden", o.hidden, 1, 1 << 16);
  o.depth = cfg.get_int("depth", o.depth, 1, 64);
  o.activation = cfg.get_choice("activation", o.activation, {"silu", "relu", "gelu", "tanh", "softplus"});
  o.embedding = cfg.get_choice("embedding", o.embedding, {"sinusoidal", "fourier"});
  o.embed_dim = cfg.get_int("embed_dim", o.embed_dim, 2, 4096);
  o.fourier_scale = cfg.get_positive("fourier_scale", o.fourier_scale);
  return o;
}

namespace {
torch::nn::AnyModule activation(const std::string& name) {
  if (name == "relu") return torch::nn::AnyModule(torch::nn::ReLU());
  if (name == "gelu") return torch::nn::AnyModule(torch::nn::GELU());
  if (name == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (name == "softplus") return torch::nn::AnyModule(torch::nn::Softplus());
  return torch::nn::AnyModule(torch::nn::SiLU());
}
}  // namespace

MLPImpl::MLPImpl(MLPOptions o) : o_(std::move(o)) {
  if (o_.embedding == "fourier")
    fourier_ = register_module("fourier", FourierEmbedding(o_.embed_dim, o_.fourier_scale, o_.seed));
  body_ = torch::nn::Sequential();
  int64_t in = o_.dim + o_.embed_dim;
  for (int64_t i = 0; i < o_.depth; ++i) {
    body_->push_back(torch::nn::Linear(in, o_.hidden));
    body_->push_back(activation(o_.activation));
    in = o_.hidden;
  }
  body_->push_back(torch::nn::Linear(in, o_.out_dim > 0 ? o_.out_dim : o_.dim));
  register_module("body", body_);
  for (size_t i = 0; i < body_->size(); i += 2) linears_.emplace_back(body_->ptr<torch::nn::LinearImpl>(i));
}

namespace {
// The activation, in place when no gradient is recorded (sampling, evaluation).
at::Tensor activate(const std::string& name, at::Tensor h, bool inplace) {
  if (name == "silu") return inplace ? at::silu_(h) : at::silu(h);
  if (name == "relu") return inplace ? at::relu_(h) : at::relu(h);
  if (name == "tanh") return inplace ? at::tanh_(h) : at::tanh(h);
  if (name == "gelu") return at::gelu(h);
  return at::softplus(h);
}
}  // namespace

at::Tensor MLPImpl::forward(const at::Tensor& x, const at::Tensor& t) {
  at::Tensor emb = fourier_ ? fourier_->forward(t) : sinusoidal_embedding(t, o_.embed_dim, 1.0);
  at::Tensor h = at::cat({x.reshape({x.size(0), -1}), emb.to(x.dtype())}, 1);
  const bool inplace = !at::GradMode::is_enabled();
  for (size_t i = 0; i + 1 < linears_.size(); ++i)
    h = activate(o_.activation, at::linear(h, linears_[i]->weight, linears_[i]->bias), inplace);  // fused bias
  at::Tensor out = at::linear(h, linears_.back()->weight, linears_.back()->bias);
  return o_.out_dim > 0 ? out : out.view(x.sizes());
}

}  // namespace scorelab
