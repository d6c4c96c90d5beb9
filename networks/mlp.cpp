#include "networks/mlp.h"

#include <algorithm>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/config.h"
#include "networks/activation_kernel.h"

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
  if (o_.classes > 0)  // registered last: an unconditional network initialises as before
    class_embed_ = register_module("class_embed", torch::nn::Embedding(o_.classes + 1, o_.embed_dim));
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

namespace {
// The activation's derivative: grad * act'(h), from the pre-activation h or the output a.
at::Tensor activation_backward(const std::string& name, const at::Tensor& grad, const at::Tensor& h,
                               const at::Tensor& a) {
  if (name == "silu") return at::silu_backward(grad, h);
  if (name == "relu") return at::threshold_backward(grad, a, 0);
  if (name == "tanh") return at::tanh_backward(grad, a);
  if (name == "gelu") return at::gelu_backward(grad, h);
  return at::softplus_backward(grad, h, 1, 20);
}

// The whole MLP as one autograd node, for training (gradients to the parameters only): the
// forward runs its layers without recording, the backward is written out layer by layer — two
// products, a column sum and the activation's derivative per layer. One node instead of ~15
// (addmm, transpose and activation nodes each), which at batch 64 is a tenth of a training step.
// Inputs: the first layer's input [B, in] (a gradient only where it holds a class embedding),
// then weight, bias of every layer.
struct MLPFunction : public torch::autograd::Function<MLPFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& in,
                            const std::string& act, at::TensorList wb) {
    const size_t L = wb.size() / 2;
    // SiLU on the CPU keeps sigmoid(h) for its derivative: a = h sigmoid(h), and the backward
    // needs no exponential (networks/activation_kernel.h).
    const bool silu_cpu = act == "silu" && in.is_cpu() &&
                          (in.scalar_type() == at::kFloat || in.scalar_type() == at::kDouble);
    std::vector<at::Tensor> saved{in};  // in, then (h or sigmoid(h), a) of every hidden layer
    at::Tensor a = in;
    for (size_t i = 0; i + 1 < L; ++i) {
      if (silu_cpu) {
        at::Tensor hs = at::empty({2, a.size(0), wb[2 * i].size(0)}, a.options());
        at::Tensor h = hs[0], sig = hs[1];
        at::addmm_out(h, wb[2 * i + 1], a, wb[2 * i].t());
        at::sigmoid_out(sig, h);
        a = h * sig;
        saved.push_back(hs);
      } else {
        at::Tensor h = at::addmm(wb[2 * i + 1], a, wb[2 * i].t());
        a = activate(act, h, false);
        saved.push_back(h);
      }
      saved.push_back(a);
    }
    saved.insert(saved.end(), wb.begin(), wb.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["act"] = act;
    ctx->saved_data["silu_cpu"] = silu_cpu;
    ctx->saved_data["in_grad"] = in.requires_grad();  // a class embedding in the input
    return at::addmm(wb[2 * L - 1], a, wb[2 * L - 2].t());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    TORCH_CHECK(!at::GradMode::is_enabled(), "the MLP's fused backward has no second derivative");
    const std::vector<at::Tensor> s = ctx->get_saved_variables();
    const std::string act = ctx->saved_data["act"].toStringRef();
    const bool silu_cpu = ctx->saved_data["silu_cpu"].toBool();
    const bool in_grad = ctx->saved_data["in_grad"].toBool();
    const size_t L = (s.size() + 1) / 4;  // s = in, 2 (L-1) activations, 2 L parameters
    const at::Tensor* wb = s.data() + 1 + 2 * (L - 1);
    torch::autograd::variable_list grads(2 + 2 * L);  // in, act (no gradients), then wb
    at::Tensor g = grad_out[0].contiguous();
    for (size_t i = L; i-- > 0;) {
      const at::Tensor& input = i == 0 ? s[0] : s[2 * i];  // layer i's input: in or a_{i-1}
      grads[2 + 2 * i] = g.t().mm(input);
      grads[3 + 2 * i] = g.sum(0);
      if (i == 0) {
        if (in_grad) grads[0] = g.mm(wb[0]);
        break;
      }
      at::Tensor ga = g.mm(wb[2 * i]);
      const at::Tensor& h = s[2 * i - 1];  // layer i-1's pre-activation (with SiLU: h, sigmoid(h))
      if (!silu_cpu) {
        g = activation_backward(act, ga, h, s[2 * i]);
        continue;
      }
      g = at::empty_like(ga);
      AT_DISPATCH_FLOATING_TYPES(ga.scalar_type(), "silu_grad", [&] {
        silu_grad(ga.data_ptr<scalar_t>(), h[0].data_ptr<scalar_t>(), h[1].data_ptr<scalar_t>(),
                  g.data_ptr<scalar_t>(), ga.numel());
      });
    }
    return grads;
  }
};
}  // namespace

at::Tensor MLPImpl::embed(const at::Tensor& t) {
  return fourier_ ? fourier_->forward(t) : sinusoidal_(t);
}

at::Tensor MLPImpl::forward(const at::Tensor& x, const at::Tensor& t) {
  if (o_.classes == 0) return run(x, t, {});
  return run(x, t, at::full({x.size(0)}, o_.classes, x.options().dtype(at::kLong)));  // the null class
}

at::Tensor MLPImpl::forward_labelled(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) {
  TORCH_CHECK(o_.classes > 0, "this MLP has no class embedding (model.class_conditional: true adds one)");
  TORCH_CHECK(y.dim() == 1 && y.size(0) == x.size(0), "labels: one per example, got ", y.sizes(), " for ", x.sizes());
  return run(x, t, y);
}

at::Tensor MLPImpl::run(const at::Tensor& x, const at::Tensor& t, const at::Tensor& y) {
  const at::Tensor x2 = x.reshape({x.size(0), -1});
  const at::Tensor& W0 = linears_[0]->weight;  // [hidden, D + E]: columns for x, then for emb(t)
  const int64_t B = x2.size(0), D = x2.size(1);
  at::Tensor in, W_in, b_in;  // the first layer is in W_in^T + b_in
  if (t.dim() == 1 && t.size(0) > 1 && t.stride(0) == 0) {
    // One t for the whole batch (a sampler step): W0 [x; emb] + b = W0x x + (W0e emb + b), the
    // embedding and its product computed once instead of per row.
    at::Tensor e = embed(t.slice(0, 0, 1)).to(x.dtype());                            // [1, E]
    b_in = at::addmm(linears_[0]->bias, e, W0.slice(1, D).t()).squeeze(0);  // [hidden]
    // With labels the bias is per row: + W0e E[y], looked up in the table E W0e^T [classes + 1, hidden].
    if (y.defined()) b_in = at::embedding(class_embed_->weight.mm(W0.slice(1, D).t()), y).add_(b_in);
    in = x2;
    W_in = W0.slice(1, 0, D);
  } else {
    at::Tensor e = embed(t).to(x.dtype());
    if (y.defined()) e = e + at::embedding(class_embed_->weight, y);
    in = at::cat({x2, e}, 1);
    W_in = W0;
    b_in = linears_[0]->bias;
  }
  const bool no_grad = !at::GradMode::is_enabled();
  if (!no_grad && W_in.is_same(W0) && !x2.requires_grad() && W0.requires_grad()) {  // training: one autograd node
    std::vector<at::Tensor> wb;
    for (const auto& l : linears_) {
      wb.push_back(l->weight);
      wb.push_back(l->bias);
    }
    at::Tensor out = MLPFunction::apply(in, o_.activation, at::TensorList(wb));
    return o_.out_dim > 0 ? out : out.view(x.sizes());
  }
  // The layers on rows r .. r + n - 1 of the first layer's input (activations in place without
  // autograd); a per-row first-layer bias (labels) is sliced alike.
  auto layers = [&](int64_t r, int64_t n) {
    const at::Tensor bias = b_in.dim() == 2 ? b_in.narrow(0, r, n) : b_in;
    at::Tensor h = activate(o_.activation, at::linear(in.narrow(0, r, n), W_in, bias), no_grad);  // fused bias
    for (size_t i = 1; i + 1 < linears_.size(); ++i)
      h = activate(o_.activation, at::linear(h, linears_[i]->weight, linears_[i]->bias), no_grad);
    return at::linear(h, linears_.back()->weight, linears_.back()->bias);
  };
  // Without autograd, large batches go through the layers in blocks of rows whose activations
  // fit in the L2 cache (~512 KB): each layer's output is still cached when the activation and
  // the next product read it (10,000 rows of width 256: 1.2x faster than whole-batch layers).
  const int64_t block = std::max<int64_t>(64, (128 * 1024) / W_in.size(0));
  at::Tensor out;
  if (no_grad && B >= 2 * block) {
    out = at::empty({B, linears_.back()->weight.size(0)}, x2.options());
    for (int64_t r = 0; r < B; r += block) {
      const int64_t n = std::min(block, B - r);
      out.narrow(0, r, n).copy_(layers(r, n));
    }
  } else {
    out = layers(0, B);
  }
  return o_.out_dim > 0 ? out : out.view(x.sizes());
}

}  // namespace scorelab
