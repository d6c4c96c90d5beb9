#include <catch2/catch.hpp>

#include <ATen/ATen.h>
#include <torch/optim/adam.h>

#include "core/device.h"
#include "networks/embedding.h"
#include "networks/unet.h"

using namespace scorelab;

namespace {
int64_t count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST_CASE("the DDPM CIFAR-10 U-Net has the paper's 35.7M parameters", "[networks][unet]") {
  UNetImpl net(UNetOptions{});  // ch 128, mult 1,2,2,2, 2 blocks, attention at 16, 32x32x3
  // Ho et al. 2020, sec. 4: 35.7 million; the released model has 35,746,307.
  CHECK(count(net) == 35746307);
}

TEST_CASE("U-Net output shape matches the input for other configurations", "[networks][unet]") {
  UNetOptions o;
  o.in_channels = 1;
  o.resolution = 28;
  o.ch = 16;
  o.ch_mult = {1, 2, 2};
  o.num_res_blocks = 1;
  o.attn_resolutions = {7};
  o.groups = 8;
  o.dropout = 0;
  UNetImpl net(o);
  at::Tensor x = at::randn({3, 1, 28, 28});
  at::Tensor y = net.forward(x, at::tensor({1.0f, 500.0f, 999.0f}));
  CHECK(y.sizes() == x.sizes());
  o.out_channels = 1;
  o.in_channels = 3;
  o.resolution = 16;
  UNetImpl energy(o);
  CHECK(energy.forward(at::randn({2, 3, 16, 16}), at::tensor({3.0f, 4.0f})).sizes() == at::IntArrayRef({2, 1, 16, 16}));
}

TEST_CASE("gradients reach every U-Net parameter", "[networks][unet]") {
  UNetOptions o;
  o.in_channels = 1;
  o.resolution = 8;
  o.ch = 8;
  o.ch_mult = {1, 2};
  o.num_res_blocks = 1;
  o.attn_resolutions = {4};
  o.groups = 4;
  UNetImpl net(o);
  at::Generator g = make_generator(0);
  init_parameters(net, g);
  net.forward(at::randn({4, 1, 8, 8}), at::tensor({1.0f, 2.0f, 3.0f, 4.0f})).pow(2).sum().backward();
  for (const auto& p : net.named_parameters()) {
    INFO(p.key());
    REQUIRE(p.value().grad().defined());
    CHECK(p.value().grad().abs().sum().item<double>() > 0);
  }
}

TEST_CASE("a small U-Net overfits one batch: the loss falls by 10x", "[networks][unet]") {
  UNetOptions o;
  o.in_channels = 1;
  o.resolution = 8;
  o.ch = 16;
  o.ch_mult = {1, 2};
  o.num_res_blocks = 1;
  o.attn_resolutions = {};
  o.groups = 8;
  o.dropout = 0;
  UNetImpl net(o);
  at::Generator g = make_generator(1);
  init_parameters(net, g);
  at::Tensor x = at::randn({8, 1, 8, 8}, g, at::kFloat), target = at::randn({8, 1, 8, 8}, g, at::kFloat);
  at::Tensor c = at::arange(8, at::kFloat) * 100;
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(2e-3));
  double first = 0, last = 0;
  for (int i = 0; i < 300; ++i) {
    at::Tensor loss = (net.forward(x, c) - target).pow(2).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (i == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  INFO("loss " << first << " -> " << last);
  CHECK(last < first / 10);
}

#include <torch/autograd.h>

#include "networks/energy.h"
#include "sde/vp.h"

TEST_CASE("the energy wrapper turns a one-channel U-Net into a score: s = -grad E", "[networks][unet][energy]") {
  UNetOptions o;
  o.in_channels = 1;
  o.out_channels = 1;
  o.resolution = 8;
  o.ch = 8;
  o.ch_mult = {1, 2};
  o.num_res_blocks = 1;
  o.attn_resolutions = {};
  o.groups = 4;
  o.dropout = 0;
  auto net = std::make_shared<UNetImpl>(o);
  at::Generator g = make_generator(2);
  init_parameters(*net, g);
  EnergyScoreModel model(net, std::make_shared<VPSDE>());
  at::Tensor x = at::randn({2, 1, 8, 8}, g, at::kFloat).to(at::kDouble);
  net->to(at::kDouble);
  at::Tensor t = at::tensor({0.3, 0.7}, at::kDouble);
  at::Tensor s;
  {
    at::NoGradGuard no_grad;  // as in a sampler
    s = model.score(x, t);
  }
  CHECK(s.sizes() == x.sizes());
  CHECK_FALSE(s.requires_grad());
  // Directional finite difference of E matches -s . v.
  at::Tensor v = at::randn_like(x);
  const double h = 1e-6;
  at::Tensor fd = (model.energy(x + h * v, t) - model.energy(x - h * v, t)) / (2 * h);
  CHECK(at::allclose(fd, -(s * v).sum({1, 2, 3}), 1e-5, 1e-7));
}
