#include <catch2/catch.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "core/config.h"
#include "networks/ema.h"
#include "networks/mlp.h"

using namespace scorelab;
using Catch::Matchers::WithinRel;

TEST_CASE("EMA follows shadow = d shadow + (1 - d) params, with warm-up", "[networks][ema]") {
  at::Tensor p = at::zeros({3}, at::kDouble);
  EMA ema(0.9, /*warmup=*/false);
  ema.init({p});
  double ref = 0;
  for (int i = 1; i <= 5; ++i) {
    p.fill_(static_cast<double>(i));
    ema.update({p});
    ref = 0.9 * ref + 0.1 * i;
  }
  CHECK_THAT(ema.shadow()[0][1].item<double>(), WithinRel(ref, 1e-12));
  EMA warm(0.999, /*warmup=*/true);
  warm.init({p});
  CHECK_THAT(warm.current_decay(), WithinRel(0.1, 1e-12));  // (1 + 0) / (10 + 0)
  warm.set_updates(1000000);
  CHECK_THAT(warm.current_decay(), WithinRel(0.999, 1e-12));
  at::Tensor q = at::zeros({3}, at::kDouble);
  ema.copy_to({q});
  CHECK(at::equal(q, ema.shadow()[0]));
}

TEST_CASE("MLP parameter count and output shape from YAML", "[networks][mlp]") {
  Config c = Config::from_string("model: {hidden: 64, depth: 3, embed_dim: 16, activation: gelu}\n", "m.yaml");
  MLPImpl net(MLPOptions::from(c.at("model"), 2, 0));
  int64_t n = 0;
  for (const auto& p : net.parameters()) n += p.numel();
  // (2 + 16) x 64 + 64, then 2 x (64 x 64 + 64), then 64 x 2 + 2.
  CHECK(n == (18 * 64 + 64) + 2 * (64 * 64 + 64) + (64 * 2 + 2));
  CHECK(net.forward(at::randn({5, 2}), at::rand({5}) * 1000).sizes() == at::IntArrayRef({5, 2}));
  Config f = Config::from_string("model: {embedding: fourier, embed_dim: 8}\n", "m.yaml");
  MLPImpl fourier(MLPOptions::from(f.at("model"), 3, 7));
  CHECK(fourier.forward(at::randn({4, 3}), at::rand({4})).sizes() == at::IntArrayRef({4, 3}));
}

namespace {
// The MLP written out with autograd's own operations: the reference for its one-node backward.
at::Tensor reference_mlp(MLPImpl& net, const at::Tensor& x, const std::string& act) {
  std::vector<at::Tensor> wb = net.parameters();  // body.<i>.weight, body.<i>.bias in order
  at::Tensor h = at::cat({x, net.embed(at::full({x.size(0)}, 0.3, x.options())).to(x.dtype())}, 1);
  for (size_t i = 0; i + 2 < wb.size(); i += 2) {
    h = at::linear(h, wb[i], wb[i + 1]);
    h = act == "silu" ? at::silu(h) : act == "relu" ? at::relu(h) : act == "gelu" ? at::gelu(h)
        : act == "tanh" ? at::tanh(h) : at::softplus(h);
  }
  return at::linear(h, wb[wb.size() - 2], wb.back());
}
}  // namespace

TEST_CASE("the MLP's one-node training backward equals autograd's for every activation", "[networks][mlp]") {
  for (std::string act : {"silu", "relu", "gelu", "tanh", "softplus"}) {
    for (auto dtype : {at::kDouble, at::kFloat}) {
      CAPTURE(act, dtype);
      Config c = Config::from_string("model: {hidden: 48, depth: 3, embed_dim: 16, activation: " + act + "}\n", "m.yaml");
      MLPImpl net(MLPOptions::from(c.at("model"), 3, 0));
      net.to(dtype);
      at::manual_seed(5);
      at::Tensor x = at::randn({37, 3}, at::TensorOptions().dtype(dtype));
      at::Tensor target = at::randn({37, 3}, x.options());
      std::vector<at::Tensor> fused, reference;
      for (int pass = 0; pass < 2; ++pass) {
        for (auto& p : net.parameters()) p.mutable_grad() = at::Tensor();
        at::Tensor out = pass == 0 ? net.forward(x, at::full({37}, 0.3, x.options())) : reference_mlp(net, x, act);
        // The fused path is one autograd node; the reference has one per operation.
        if (pass == 0) CHECK(out.grad_fn()->next_edges()[0].function->name().find("MLPFunction") != std::string::npos);
        at::mse_loss(out, target).backward();
        for (auto& p : net.parameters()) (pass == 0 ? fused : reference).push_back(p.grad().clone());
      }
      // float64: agreement to rounding of a few products; float32: a few units in the last place
      // of the largest gradient entry.
      const double tol = dtype == at::kDouble ? 1e-12 : 2e-6;
      for (size_t i = 0; i < fused.size(); ++i) {
        CAPTURE(i);
        const double scale = reference[i].abs().max().item<double>();
        CHECK((fused[i] - reference[i]).abs().max().item<double>() <= tol * scale);
      }
    }
  }
}

TEST_CASE("the MLP keeps autograd's graph where a derivative in x is needed", "[networks][mlp]") {
  Config c = Config::from_string("model: {hidden: 16, depth: 2, embed_dim: 8}\n", "m.yaml");
  MLPImpl net(MLPOptions::from(c.at("model"), 2, 0));
  net.to(at::kDouble);
  at::Tensor x = at::randn({4, 2}, at::kDouble).requires_grad_(true);
  at::Tensor out = net.forward(x, at::full({4}, 0.5, at::kDouble));
  CHECK(out.grad_fn()->next_edges()[0].function->name().find("MLPFunction") == std::string::npos);
  // A second derivative through the one-node path is refused, not silently wrong.
  at::Tensor y = net.forward(x.detach(), at::full({4}, 0.5, at::kDouble));
  CHECK_THROWS_WITH(torch::autograd::grad({y.sum()}, {net.parameters()[0]}, {}, true, /*create_graph=*/true),
                    Catch::Contains("no second derivative"));
}
