#include "networks/embedding.h"

#include <cmath>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "core/noise.h"

namespace scorelab {

at::Tensor sinusoidal_embedding(const at::Tensor& t, int64_t dim, double scale) {
  return SinusoidalEmbedding(dim, scale)(t);
}

at::Tensor SinusoidalEmbedding::operator()(const at::Tensor& t) {
  int64_t half = dim_ / 2;
  if (!freqs_.defined() || freqs_.scalar_type() != t.scalar_type() || freqs_.device() != t.device()) {
    at::Tensor k = at::arange(half, t.options().requires_grad(false));
    freqs_ = at::exp(-std::log(10000.0) * k / std::max<int64_t>(half - 1, 1));
  }
  at::Tensor args = (scale_ == 1.0 ? t : scale_ * t).unsqueeze(1) * freqs_.unsqueeze(0);
  at::Tensor emb = at::cat({at::sin(args), at::cos(args)}, 1);
  if (dim_ % 2) emb = at::constant_pad_nd(emb, {0, 1});
  return emb;
}

FourierEmbeddingImpl::FourierEmbeddingImpl(int64_t dim, double scale, uint64_t seed) {
  at::Tensor idx = at::zeros({1}, at::kLong);
  W_ = register_buffer("W", scale * counter_normal(seed, idx, 0, {dim / 2}, at::kFloat)[0]);
}

at::Tensor FourierEmbeddingImpl::forward(const at::Tensor& t) {
  at::Tensor args = 2 * M_PI * t.unsqueeze(1) * W_.to(t.dtype()).unsqueeze(0);
  return at::cat({at::sin(args), at::cos(args)}, 1);
}

void init_parameters(torch::nn::Module& m, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  std::vector<torch::nn::Module*> all{&m};
  for (auto& mod : m.modules(/*include_self=*/false)) all.push_back(mod.get());
  for (torch::nn::Module* mod : all) {
    auto params = mod->named_parameters(/*recurse=*/false);
    auto* w = params.find("weight");
    if (!w || w->dim() < 2) continue;
    double fan_in = static_cast<double>(w->numel() / w->size(0));
    double bound = 1.0 / std::sqrt(fan_in);
    w->uniform_(-bound, bound, gen);
    if (auto* b = params.find("bias")) b->uniform_(-bound, bound, gen);
  }
}

}  // namespace scorelab
