// The sampler core: a run reads alpha, sigma and lambda from its schedule (built once), and a
// step rule keeps no state between runs.
#include <catch2/catch.hpp>

#include <atomic>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "experiments/registries.h"
#include "networks/score_model.h"
#include "sde/ddpm.h"
#include "sde/vp.h"

using namespace scorelab;

namespace {

// An SDE that counts the calls of alpha and sigma made from outside it (its own internal
// calls go to the wrapped SDE and are not counted).
class CountingSDE : public SDE {
 public:
  explicit CountingSDE(std::shared_ptr<const SDE> inner) : in_(std::move(inner)) {}
  std::string name() const override { return in_->name(); }
  double T() const override { return in_->T(); }
  at::Tensor drift(const at::Tensor& x, const at::Tensor& t) const override { return in_->drift(x, t); }
  at::Tensor diffusion(const at::Tensor& t) const override { return in_->diffusion(t); }
  at::Tensor alpha(const at::Tensor& t) const override {
    ++calls;
    return in_->alpha(t);
  }
  at::Tensor sigma(const at::Tensor& t) const override {
    ++calls;
    return in_->sigma(t);
  }
  at::Tensor dlog_snr_dt(const at::Tensor& t) const override { return in_->dlog_snr_dt(t); }
  double prior_std() const override { return in_->prior_std(); }
  const DDPMChain* ddpm_chain() const override { return in_->ddpm_chain(); }
  Conditioning natural_conditioning() const override { return in_->natural_conditioning(); }
  Discrete discretize(const at::Tensor& x, const at::Tensor& t, double dt) const override {
    return in_->discretize(x, t, dt);
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  std::shared_ptr<const SDE> in_;
};

// A model predicting -x/2 as whatever the sampler asks for, so no conversion (which needs
// alpha and sigma) happens between the model and the sampler.
class Linear : public ScoreModel {
 public:
  Linear(std::shared_ptr<const SDE> sde, Parameterization p) : ScoreModel(std::move(sde)), p_(p) {}
  Parameterization kind() const override { return p_; }

 protected:
  at::Tensor predict(const at::Tensor& x, const at::Tensor&) const override { return -0.5 * x; }

 private:
  Parameterization p_;
};

std::shared_ptr<Sampler> build(const std::string& yaml, const SDE& sde) {
  Config cfg = Config::from_string(yaml, "s.yaml");
  return builtin_registries().sampler.build(cfg.at("sample"), "", sde);
}

at::Tensor start(int64_t n, uint64_t seed) {
  at::Generator g = make_generator(100 + seed);
  return at::randn({n, 2}, g, at::TensorOptions().dtype(at::kDouble));
}

}  // namespace

TEST_CASE("a sampler run evaluates alpha and sigma once, whatever its number of steps", "[solvers][schedule]") {
  auto vp = std::make_shared<CountingSDE>(std::make_shared<VPSDE>());
  auto ddpm = std::make_shared<CountingSDE>(std::make_shared<DDPMSDE>(DDPMChain::linear(100, 1e-4, 0.02)));
  struct Case {
    std::shared_ptr<CountingSDE> sde;
    std::string type;  // the sample section without steps
    Parameterization asks;
    int64_t calls;  // alpha + sigma calls of one run
  };
  // The schedule: alpha and sigma once each. EDM adds sigma~(T) (alpha, sigma), alpha at the
  // churned times, and with churn one vectorised 100-iteration bisection on the log-SNR for
  // all steps together (alpha and sigma per iteration).
  std::vector<Case> cases{{vp, "{type: euler_maruyama", Parameterization::score, 2},
                          {vp, "{type: ode, method: heun", Parameterization::score, 2},
                          {vp, "{type: pc, predictor: euler_maruyama", Parameterization::score, 2},
                          {vp, "{type: dpm_solver_2m", Parameterization::x0, 2},
                          {vp, "{type: edm", Parameterization::x0, 5},
                          {vp, "{type: edm, churn: 10", Parameterization::x0, 205},
                          {ddpm, "{type: ddim", Parameterization::eps, 2},
                          {ddpm, "{type: ancestral", Parameterization::x0, 2}};
  for (const auto& c : cases) {
    INFO(c.type);
    Linear model(c.sde, c.asks);
    std::vector<int64_t> counts;
    for (int steps : {5, 40}) {
      auto sampler = build("sample: " + c.type + ", steps: " + std::to_string(steps) + "}\n", *c.sde);
      NoiseSource noise = NoiseSource::range(1, 0, 8, c10::Device(c10::kCPU));
      c.sde->calls = 0;
      SampleResult r = sampler->sample(model, start(8, 0), noise);
      CHECK(r.nfe >= steps);
      counts.push_back(c.sde->calls.load());
    }
    CHECK(counts[0] == counts[1]);  // not per step
    CHECK(counts[0] == c.calls);
  }
}

TEST_CASE("step rules keep no state between runs: interleaved runs equal sequential ones", "[solvers][schedule]") {
  auto vp = std::make_shared<VPSDE>();
  Linear model(vp, Parameterization::x0);
  for (const char* yaml : {"sample: {type: dpm_solver_2m, steps: 8}\n", "sample: {type: ode, method: rk45}\n",
                           "sample: {type: edm, steps: 6, churn: 5}\n", "sample: {type: unipc, steps: 6, order: 3}\n",
                           "sample: {type: lms, steps: 6}\n", "sample: {type: deis, steps: 6}\n",
                           "sample: {type: dpm_solver_3m_sde, steps: 6}\n", "sample: {type: dpm_solver_adaptive}\n"}) {
    INFO(yaml);
    auto sampler = build(yaml, *vp);
    NoiseSource na = NoiseSource::range(1, 0, 8, c10::Device(c10::kCPU));
    NoiseSource nb = NoiseSource::range(2, 0, 8, c10::Device(c10::kCPU));
    at::Tensor a_alone = sampler->sample(model, start(8, 0), na).x;
    at::Tensor b_alone = sampler->sample(model, start(8, 1), nb).x;
    // Run B to completion in the middle of run A (from A's observer), with the same sampler.
    at::Tensor b_inside;
    SampleResult a = sampler->sample(model, start(8, 0), na, [&](const StepInfo& s) {
      if (s.k == 1 || s.steps == 1) b_inside = sampler->sample(model, start(8, 1), nb).x;
    });
    REQUIRE(b_inside.defined());
    CHECK(at::equal(a.x, a_alone));
    CHECK(at::equal(b_inside, b_alone));
  }
}

TEST_CASE("the observer sees the denoised estimate of every step", "[solvers][schedule]") {
  auto vp = std::make_shared<VPSDE>();
  Linear model(vp, Parameterization::score);
  auto sampler = build("sample: {type: euler_maruyama, steps: 4}\n", *vp);
  NoiseSource noise = NoiseSource::range(1, 0, 8, c10::Device(c10::kCPU));
  at::Tensor x = start(8, 0);
  int64_t seen = 0;
  sampler->sample(model, x, noise, [&](const StepInfo& s) {
    REQUIRE(s.x0.defined());
    if (s.k == 0) {  // Tweedie at (x_T, T) with score -x/2: x0 = (x + sigma^2 (-x/2)) / alpha
      at::Tensor T = at::ones({1}, at::kDouble);
      double a = vp->alpha(T).item<double>(), sg = vp->sigma(T).item<double>();
      CHECK(at::allclose(s.x0, (x - 0.5 * sg * sg * x) / a, 1e-12, 1e-12));
    }
    ++seen;
  });
  CHECK(seen == 4);
  // Every other step rule reports its estimate too.
  for (const char* type : {"euler_ancestral", "dpm_solver_2s_ancestral", "dpm_solver_2m_sde", "dpm_solver_3m_sde",
                           "dpm_solver", "unipc", "lms", "deis", "edm", "dpm_solver_2m", "ode"}) {
    INFO(type);
    auto s2 = build(std::string("sample: {type: ") + type + "}\n", *vp);
    int64_t defined = 0, steps = 0;
    s2->sample(model, x, noise, [&](const StepInfo& s) {
      defined += s.x0.defined() && at::isfinite(s.x0).all().item<bool>();
      ++steps;
    });
    CHECK(steps > 0);
    CHECK(defined == steps);
  }
}
