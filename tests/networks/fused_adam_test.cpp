#include <catch2/catch.hpp>

#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include "networks/ema.h"
#include "networks/fused_adam.h"
#include "networks/lr_schedule.h"

using namespace scorelab;

namespace {

torch::nn::Sequential small_net(at::ScalarType dtype) {
  torch::manual_seed(3);
  torch::nn::Sequential net(torch::nn::Linear(5, 16), torch::nn::SiLU(), torch::nn::Linear(16, 3));
  net->to(dtype);
  return net;
}

// The loss of step k: a fixed function of the step so both optimizers see the same problem.
at::Tensor loss_at(torch::nn::Sequential& net, int k, at::ScalarType dtype, double scale) {
  at::Tensor x = at::linspace(-1, 1, 35, dtype).view({7, 5}) * (1 + 0.1 * k);
  return net->forward(x).pow(2).sum() * scale;
}

// max |a - b| / max |b| over each tensor pair (normwise: small entries do not dominate).
double max_rel_diff(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, (a[i] - b[i]).abs().max().item<double>() / b[i].abs().max().item<double>());
  return m;
}

// Runs `steps` of (clip, Adam, EMA) with FusedAdam and with torch::optim::Adam +
// clip_grad_norm_ + EMA::update, from the same initial weights; returns max relative
// differences of parameters and EMA shadows.
// `optimizer`: adam (torch::optim::Adam, weight decay as an L2 term) or adamw; with a schedule,
// both take the learning rate of update k from it.
std::pair<double, double> compare(at::ScalarType dtype, double clip, double loss_scale, bool cpu_loop, int steps,
                                  const std::string& optimizer = "adam", double weight_decay = 0,
                                  const LrSchedule* schedule = nullptr) {
  auto net_f = small_net(dtype), net_t = small_net(dtype);
  AdamOptions o;
  o.lr = 0.05;
  o.grad_clip = clip;
  o.cpu_loop = cpu_loop;
  o.weight_decay = weight_decay;
  o.decoupled = optimizer == "adamw";
  if (weight_decay != 0 || schedule) {  // the options reach the optimizer too
    o.beta1 = 0.8;
    o.beta2 = 0.99;
    o.eps = 1e-6;
  }
  EMA ema_f(0.9, true), ema_t(0.9, true);
  FusedAdam fused(net_f->parameters(), o, &ema_f);
  std::unique_ptr<torch::optim::Optimizer> adam;
  if (o.decoupled)
    adam = std::make_unique<torch::optim::AdamW>(
        net_t->parameters(),
        torch::optim::AdamWOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(weight_decay));
  else
    adam = std::make_unique<torch::optim::Adam>(
        net_t->parameters(),
        torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(weight_decay));
  ema_t.init(net_t->parameters());
  for (int k = 0; k < steps; ++k) {
    if (schedule) {
      const double lr = schedule->at(k + 1);
      fused.set_lr(lr);
      auto& group = adam->param_groups()[0].options();
      if (o.decoupled) static_cast<torch::optim::AdamWOptions&>(group).lr(lr);
      else static_cast<torch::optim::AdamOptions&>(group).lr(lr);
    }
    fused.zero_grad();
    loss_at(net_f, k, dtype, loss_scale).backward();
    at::Tensor norm = fused.step();
    adam->zero_grad();
    loss_at(net_t, k, dtype, loss_scale).backward();
    double ref_norm = clip > 0 ? torch::nn::utils::clip_grad_norm_(net_t->parameters(), clip)
                               : torch::nn::utils::clip_grad_norm_(net_t->parameters(), 1e300);
    CHECK(norm.item<double>() == Approx(ref_norm).epsilon(dtype == at::kDouble ? 1e-12 : 1e-5));
    adam->step();
    ema_t.update(net_t->parameters());
  }
  CHECK(ema_f.updates() == steps);
  return {max_rel_diff(net_f->parameters(), net_t->parameters()), max_rel_diff(ema_f.shadow(), ema_t.shadow())};
}

}  // namespace

TEST_CASE("fused Adam + clip + EMA equals torch's Adam, clip_grad_norm_ and the EMA lerp", "[networks][optim]") {
  for (bool loop : {true, false}) {
    // float64: agreement to rounding over 20 steps, with clipping active (gradient norm ~ 1e2
    // against a bound of 1) and without.
    for (double clip : {0.0, 1.0}) {
      auto [p, e] = compare(at::kDouble, clip, 10.0, loop, 20);
      CHECK(p < 1e-10);
      CHECK(e < 1e-10);
    }
    // float32: two steps agree up to float rounding (over many steps rounding differences grow:
    // Adam's m / sqrt(v) amplifies them where gradients are near zero).
    auto [p, e] = compare(at::kFloat, 1.0, 10.0, loop, 2);
    CHECK(p < 1e-6);
    CHECK(e < 1e-6);
  }
}

TEST_CASE("fused Adam with weight decay (Adam's L2, AdamW's decoupled) and a schedule equals torch's",
          "[networks][optim]") {
  LrSchedule cosine;
  cosine.type = "cosine";
  cosine.lr = 0.05;
  cosine.min_lr = 0.005;
  cosine.warmup = 5;
  cosine.steps = 20;
  for (bool loop : {true, false})
    for (const std::string opt : {"adam", "adamw"})
      for (const LrSchedule* s : std::vector<const LrSchedule*>{nullptr, &cosine}) {
        INFO(opt << (loop ? " cpu loop" : " tensor ops") << (s ? " cosine" : " constant"));
        // A large weight decay, so that a wrong form of it (L2 vs decoupled) shows.
        auto [p, e] = compare(at::kDouble, 1.0, 10.0, loop, 20, opt, 0.5, s);
        CHECK(p < 1e-10);
        CHECK(e < 1e-10);
        auto [pf, ef] = compare(at::kFloat, 1.0, 10.0, loop, 2, opt, 0.5, s);
        CHECK(pf < 1e-6);
        CHECK(ef < 1e-6);
      }
  // The two decays differ (the test above could not pass with one form for both).
  AdamOptions o;
  o.lr = 0.05;
  o.weight_decay = 0.5;
  auto run = [&](bool decoupled) {
    auto net = small_net(at::kDouble);
    o.decoupled = decoupled;
    FusedAdam f(net->parameters(), o, nullptr);
    for (int k = 0; k < 5; ++k) {
      f.zero_grad();
      loss_at(net, k, at::kDouble, 10.0).backward();
      f.step();
    }
    return net->parameters();
  };
  CHECK(max_rel_diff(run(true), run(false)) > 1e-3);
}

TEST_CASE("learning-rate schedules: warm-up, cosine and inverse square root at given steps", "[networks][optim]") {
  LrSchedule s;
  s.lr = 1e-3;
  CHECK(s.at(1) == 1e-3);
  CHECK(s.at(123456) == 1e-3);
  s.type = "linear_warmup";
  s.warmup = 5000;  // DDPM, App. B
  CHECK(s.at(1) == Approx(1e-3 / 5000).epsilon(1e-15));
  CHECK(s.at(2500) == Approx(0.5e-3).epsilon(1e-15));
  CHECK(s.at(5000) == 1e-3);
  CHECK(s.at(800000) == 1e-3);
  s.type = "cosine";
  s.warmup = 100;
  s.steps = 1100;
  s.min_lr = 1e-4;
  CHECK(s.at(50) == Approx(0.5e-3).epsilon(1e-15));
  CHECK(s.at(100) == Approx(1e-3).epsilon(1e-15));                 // u = 0
  CHECK(s.at(600) == Approx(1e-4 + 0.9e-3 * 0.5).epsilon(1e-14));  // u = 1/2: halfway
  CHECK(s.at(350) == Approx(1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(M_PI / 4))).epsilon(1e-14));
  CHECK(s.at(1100) == Approx(1e-4).epsilon(1e-14));                // u = 1: min_lr
  CHECK(s.at(5000) == Approx(1e-4).epsilon(1e-14));                // past the end: stays there
  s.type = "inverse_sqrt";
  s.warmup = 0;
  s.decay_steps = 1000;
  CHECK(s.at(1) == 1e-3);
  CHECK(s.at(1000) == 1e-3);
  CHECK(s.at(4000) == Approx(0.5e-3).epsilon(1e-15));  // 1 / sqrt(4000 / 1000)
  CHECK(s.at(9000) == Approx(1e-3 / 3).epsilon(1e-15));
}

TEST_CASE("fused Adam keeps the parameters in one buffer and gives the same run on 1 and 2 threads",
          "[networks][optim]") {
  int threads = at::get_num_threads();
  std::vector<std::vector<at::Tensor>> runs;
  for (int t : {1, 2}) {
    at::set_num_threads(t);
    // Big enough (2 x 40,000 weights) for the loop to be split across threads.
    torch::manual_seed(5);
    torch::nn::Sequential net(torch::nn::Linear(200, 200), torch::nn::Tanh(), torch::nn::Linear(200, 200));
    AdamOptions o;
    o.grad_clip = 0.5;
    FusedAdam opt(net->parameters(), o, nullptr);
    auto ps = net->parameters();
    for (size_t i = 1; i < ps.size(); ++i)  // consecutive views of one storage
      CHECK(ps[i].data_ptr<float>() == ps[i - 1].data_ptr<float>() + ps[i - 1].numel());
    for (int k = 0; k < 3; ++k) {
      opt.zero_grad();
      for (const auto& p : ps) CHECK_FALSE(p.grad().defined());
      net->forward(at::ones({4, 200}) * (k + 1)).sum().backward();
      opt.step();
    }
    std::vector<at::Tensor> copy;
    for (const auto& p : ps) copy.push_back(p.detach().clone());
    runs.push_back(copy);
  }
  at::set_num_threads(threads);
  for (size_t i = 0; i < runs[0].size(); ++i) CHECK(at::equal(runs[0][i], runs[1][i]));
}

TEST_CASE("fused Adam reads the optimizer state of checkpoints written with torch::optim::Adam",
          "[networks][optim]") {
  auto net_t = small_net(at::kFloat), net_f = small_net(at::kFloat);
  torch::optim::Adam adam(net_t->parameters(), torch::optim::AdamOptions(0.01));
  for (int k = 0; k < 3; ++k) {
    adam.zero_grad();
    loss_at(net_t, k, at::kFloat, 1.0).backward();
    adam.step();
  }
  torch::serialize::OutputArchive out;
  adam.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  std::istringstream is(bytes.str());
  in.load_from(is);
  AdamOptions o;
  o.lr = 0.01;
  FusedAdam fused(net_f->parameters(), o, nullptr);
  fused.load(in);
  CHECK(fused.steps() == 3);
  int64_t at0 = 0;
  for (const auto& p : net_t->parameters()) {
    auto& st = static_cast<torch::optim::AdamParamState&>(
        *adam.state().at(c10::guts::to_string(p.unsafeGetTensorImpl())));
    CHECK(at::equal(fused.exp_avg().narrow(0, at0, p.numel()), st.exp_avg().reshape(-1)));
    CHECK(at::equal(fused.exp_avg_sq().narrow(0, at0, p.numel()), st.exp_avg_sq().reshape(-1)));
    at0 += p.numel();
  }
}
