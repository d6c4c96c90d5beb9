#include <catch2/catch.hpp>

#include <ATen/ATen.h>

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
