// Class labels and classifier-free guidance: exact tests on the Gaussian-mixture oracle, whose
// class-conditional score is closed-form (each component's perturbed score), and the class
// embedding of the MLP.
#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "core/config.h"
#include "core/device.h"
#include "experiments/evaluation/metrics.h"
#include "experiments/experiment.h"
#include "networks/guidance.h"
#include "networks/mlp.h"
#include "networks/oracle.h"
#include "sde/vp.h"

using namespace scorelab;

namespace {
GaussianMixture mixture3() {
  Config c = Config::from_string(
      "weights: [0.2, 0.5, 0.3]\n"
      "means: [[1.0, -1.0], [-2.0, 0.0], [0.5, 2.0]]\n"
      "covs: [[[1.0, 0.3], [0.3, 0.5]], [[0.2, 0.0], [0.0, 0.3]], [[0.6, -0.2], [-0.2, 0.4]]]\n",
      "gmm.yaml");
  return GaussianMixture::from(c);
}

// -(alpha^2 Sigma_k + sigma^2 I)^{-1} (x - alpha mu_k), row by row, by explicit 2x2 inverses.
at::Tensor component_score(const GaussianMixture& g, const at::Tensor& x, const at::Tensor& alpha,
                           const at::Tensor& sigma, const at::Tensor& y) {
  at::Tensor out = at::empty_like(x);
  for (int64_t i = 0; i < x.size(0); ++i) {
    const int64_t k = y[i].item<int64_t>();
    const double a = alpha[i].item<double>(), s = sigma[i].item<double>();
    at::Tensor C = a * a * g.covs[k] + s * s * at::eye(2, at::kDouble);
    const double c00 = C[0][0].item<double>(), c01 = C[0][1].item<double>(), c11 = C[1][1].item<double>();
    const double det = c00 * c11 - c01 * c01;
    const double d0 = x[i][0].item<double>() - a * g.means[k][0].item<double>();
    const double d1 = x[i][1].item<double>() - a * g.means[k][1].item<double>();
    out[i][0] = -(c11 * d0 - c01 * d1) / det;
    out[i][1] = -(-c01 * d0 + c00 * d1) / det;
  }
  return out;
}
}  // namespace

TEST_CASE("the class-conditional oracle's score is each component's perturbed score, the null class is the mixture's",
          "[networks][guidance]") {
  GaussianMixture g = mixture3();
  auto sde = std::make_shared<VPSDE>();
  OracleScoreModel oracle(g, sde);
  REQUIRE(oracle.num_classes() == 3);
  at::Generator gen = make_generator(11);
  at::Tensor x = at::randn({9, 2}, gen, at::kDouble) * 2;
  at::Tensor t = at::rand({9}, gen, at::kDouble) * 0.98 + 0.01;
  at::Tensor y = at::tensor(std::vector<int64_t>{0, 1, 2, 2, 1, 0, 1, 2, 0});
  at::Tensor expect = component_score(g, x, sde->alpha(t), sde->sigma(t), y);
  LabelledModel given(oracle, y);
  CHECK(at::allclose(given.score(x, t), expect, 1e-12, 1e-12));
  // One t for the whole batch (a sampler step's broadcast view) gives the same.
  at::Tensor t1 = at::full({1}, 0.37, at::kDouble).expand({9});
  CHECK(at::allclose(given.score(x, t1), component_score(g, x, sde->alpha(t1), sde->sigma(t1), y), 1e-12, 1e-12));
  // The null class (label 3): the unconditional mixture score.
  LabelledModel none(oracle, at::full({9}, 3, at::kLong));
  CHECK(at::allclose(none.score(x, t), oracle.score(x, t), 1e-12, 1e-12));
  // Labels outside 0..K are refused.
  CHECK_THROWS(LabelledModel(oracle, at::full({9}, 4, at::kLong)).score(x, t));
}

TEST_CASE("classifier-free guidance: w = 0 is the conditional model, w != 0 is (1 + w) eps(x, c) - w eps(x, null)",
          "[networks][guidance]") {
  GaussianMixture g = mixture3();
  auto sde = std::make_shared<VPSDE>();
  OracleScoreModel oracle(g, sde);
  at::Generator gen = make_generator(12);
  at::Tensor x = at::randn({8, 2}, gen, at::kDouble);
  at::Tensor y = at::tensor(std::vector<int64_t>{2, 0, 1, 1, 0, 2, 3, 0});  // one null label: guidance is a no-op there
  for (bool shared : {false, true}) {
    at::Tensor t = shared ? at::full({1}, 0.4, at::kDouble).expand({8}) : at::rand({8}, gen, at::kDouble) * 0.9 + 0.05;
    at::Tensor sigma = sde->sigma(t).unsqueeze(1);
    at::Tensor eps_c = -sigma * component_score(g, x, sde->alpha(t), sde->sigma(t), y.clamp_max(2));
    at::Tensor eps_u = -sigma * g.score(x, sde->alpha(t), sde->sigma(t));
    eps_c = at::where((y == 3).unsqueeze(1), eps_u, eps_c);
    CHECK(at::allclose(LabelledModel(oracle, y, 0.0).eps(x, t), eps_c, 1e-12, 1e-12));
    for (double w : {0.5, 3.0, -1.0}) {
      INFO("w " << w << " shared t " << shared);
      LabelledModel guided(oracle, y, w);
      CHECK(guided.kind() == Parameterization::eps);
      CHECK(at::allclose(guided.eps(x, t), (1 + w) * eps_c - w * eps_u, 1e-12, 1e-12));
      // A guided model is a score model: its score is -eps~ / sigma.
      CHECK(at::allclose(guided.score(x, t), -((1 + w) * eps_c - w * eps_u) / sigma, 1e-12, 1e-12));
    }
  }
  // One guided evaluation is one call of the model (on a doubled batch).
  LabelledModel guided(oracle, y, 2.0);
  const int64_t before = oracle.nfe();
  guided.eps(x, at::full({8}, 0.3, at::kDouble));
  CHECK(oracle.nfe() - before == 1);
  CHECK(guided.nfe() == 1);
}

TEST_CASE("sampling given a component reaches that component's Monte-Carlo floor", "[networks][guidance][slow]") {
  // Well-separated components; the probability-flow ODE (RK45) on the exact oracle, given class k.
  const std::string yaml =
      "run: {device: cpu, threads: 1, dtype: float64}\n"
      "data: {type: gmm, means: [[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]], stds: [0.5, 0.8, 0.3]}\n"
      "model: {type: gmm_oracle, means: [[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]], stds: [0.5, 0.8, 0.3]}\n"
      "sde: {type: vp}\ntrain: {steps: 0}\n"
      "sample: {type: ode, method: rk45}\n";
  const int64_t n = 1500;
  GaussianMixture g = GaussianMixture::from(
      Config::from_string("means: [[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]]\nstds: [0.5, 0.8, 0.3]\n", "g.yaml"));
  for (int64_t k : {0, 1, 2}) {
    for (double w : {0.0, 2.0}) {
      Experiment ex = build_experiment(Config::from_string(yaml, "c.yaml", {"sample.classes=[" + std::to_string(k) + "]",
                                                                            "sample.guidance=" + std::to_string(w)}),
                                       "c");
      auto model = ex.make_model();
      SampleResult r = draw_samples(ex, *model, n, 5, "");
      REQUIRE(r.labels.defined());
      CHECK(at::equal(r.labels, at::full({n}, k, at::kLong)));
      // The reference: fresh draws of component k; the floor: other fresh draws against it.
      at::Generator gen = make_generator(100 + k);
      at::Tensor ref = g.sample_components(at::full({4000}, k, at::kLong), gen);
      at::Generator proj = make_generator(7);
      SlicedW2Reference sw(ref, 128, proj);
      std::vector<double> floor;
      for (int rep = 0; rep < 20; ++rep) floor.push_back(sw.distance(g.sample_components(at::full({n}, k, at::kLong), gen)));
      double mean = 0, ss = 0;
      for (double f : floor) mean += f / 20;
      for (double f : floor) ss += (f - mean) * (f - mean) / 19;
      const double value = sw.distance(r.x);
      INFO("component " << k << " w " << w << ": sliced W2 " << value << ", floor " << mean << " +- " << std::sqrt(ss));
      if (w == 0) {
        // The exact conditional: as close as fresh data, within 4 sd of the floor's spread.
        CHECK(value < mean + 4 * std::sqrt(ss));
      }
      // Guided or not, every sample lands in its component (the others are 3.6 sd or more away).
      at::Tensor one = at::ones({n}, at::kDouble), zero = at::zeros({n}, at::kDouble);
      at::Tensor assigned = g.responsibilities(r.x, one, zero).argmax(1);
      CHECK((assigned == k).to(at::kDouble).mean().item<double>() > 0.995);
    }
  }
}

TEST_CASE("class labels: uniform, lists and random choices do not depend on the batching", "[networks][guidance]") {
  ClassChoice u = ClassChoice::parse({"uniform"});
  CHECK(at::equal(u.labels(3, 0, 4, 5), at::tensor(std::vector<int64_t>{1, 2, 0, 1, 2})));
  ClassChoice l = ClassChoice::parse({"7", "2"});
  CHECK(l.str() == "[7, 2]");
  CHECK(at::equal(l.labels(10, 0, 1, 3), at::tensor(std::vector<int64_t>{2, 7, 2})));
  CHECK_THROWS_AS(l.labels(5, 0, 0, 2), std::invalid_argument);  // class 7 of 5
  ClassChoice r = ClassChoice::parse({"random"});
  at::Tensor all = r.labels(10, 42, 0, 1000);
  CHECK(at::equal(at::cat({r.labels(10, 42, 0, 300), r.labels(10, 42, 300, 700)}), all));
  CHECK_FALSE(at::equal(r.labels(10, 43, 0, 1000), all));
  // Every class appears, at about 1/10 each (100 +- 4 sd of a binomial(1000, 0.1)).
  at::Tensor counts = at::bincount(all, {}, 10);
  CHECK(counts.min().item<int64_t>() >= 100 - 38);
  CHECK(counts.max().item<int64_t>() <= 100 + 38);
  CHECK(at::equal(ClassChoice::parse({"none"}).labels(10, 0, 0, 3), at::full({3}, 10, at::kLong)));
  CHECK_THROWS_AS(ClassChoice::parse({"cats"}), std::invalid_argument);
  CHECK_THROWS_AS(ClassChoice::parse({"-1"}), std::invalid_argument);
}

TEST_CASE("label dropout replaces labels by the null class at the given rate", "[networks][guidance]") {
  at::Generator gen = make_generator(3);
  at::Tensor y = at::randint(10, {20000}, gen, at::kLong);
  at::Tensor d = drop_labels(y, 0.2, 10, gen);
  at::Tensor dropped = (d == 10).to(at::kDouble);
  // 0.2 within 4 binomial sd (0.0028 each at n = 20000).
  CHECK(std::abs(dropped.mean().item<double>() - 0.2) < 4 * std::sqrt(0.2 * 0.8 / 20000));
  CHECK(at::equal(at::where(d == 10, y, d), y));  // the others unchanged
  CHECK(at::equal(drop_labels(y, 0.0, 10, gen), y));
}

TEST_CASE("the MLP's class embedding: the sampler's fast path equals the general one, its training node's "
          "gradients equal autograd's",
          "[networks][guidance]") {
  MLPOptions o;
  o.dim = 2;
  o.hidden = 32;
  o.depth = 3;
  o.embed_dim = 16;
  o.classes = 4;
  auto net = std::make_shared<MLPImpl>(o);
  at::Generator gen = make_generator(4);
  init_parameters(*net, gen);
  net->to(at::kDouble);
  at::Tensor x = at::randn({300, 2}, gen, at::kDouble);
  at::Tensor y = at::randint(5, {300}, gen, at::kLong);
  at::Tensor c1 = at::full({1}, 420.0, at::kDouble);
  {
    torch::NoGradGuard no_grad;
    // A batch-wide conditioning value (broadcast view: the folded per-row bias, blocks of rows)
    // against the same value per row (the concatenated input).
    at::Tensor fast = net->forward_labelled(x, c1.expand({300}), y);
    at::Tensor general = net->forward_labelled(x, c1.expand({300}).contiguous(), y);
    CHECK(at::allclose(fast, general, 1e-12, 1e-12));
    // Without labels the network is the null class's (label 4).
    CHECK(at::allclose(net->forward(x, c1.expand({300})), net->forward_labelled(x, c1.expand({300}), at::full({300}, 4, at::kLong)),
                       1e-12, 1e-12));
    CHECK_FALSE(at::allclose(fast, net->forward(x, c1.expand({300})), 1e-6, 1e-6));  // labels matter
  }
  // Training: the one-node MLP (gradient into the class embedding through its input) against
  // plain autograd (taken when x itself needs a gradient).
  at::Tensor c = at::rand({300}, gen, at::kDouble) * 1000;
  auto grads = [&](bool x_grad) {
    net->zero_grad();
    at::Tensor xi = x_grad ? x.clone().requires_grad_(true) : x;
    net->forward_labelled(xi, c, y).square().sum().backward();
    std::vector<at::Tensor> g;
    for (const auto& p : net->parameters()) g.push_back(p.grad().clone());
    return g;
  };
  std::vector<at::Tensor> node = grads(false), autograd = grads(true);
  REQUIRE(node.size() == autograd.size());
  for (size_t i = 0; i < node.size(); ++i) CHECK(at::allclose(node[i], autograd[i], 1e-10, 1e-12));
  // The class embedding gets a gradient only in the rows of the labels present.
  at::Tensor ge = net->named_parameters()["class_embed.weight"].grad();
  CHECK(ge.abs().sum().item<double>() > 0);
}
