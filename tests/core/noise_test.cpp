#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>

#include "core/noise.h"

using namespace scorelab;

TEST_CASE("counter noise of a sample depends only on (seed, index, stream)", "[core][noise]") {
  at::Tensor all = counter_normal(5, at::arange(0, 10, at::kLong), 3, {4}, at::kDouble);
  at::Tensor tail = counter_normal(5, at::arange(6, 10, at::kLong), 3, {4}, at::kDouble);
  CHECK(at::equal(all.slice(0, 6), tail));  // batch size and position do not matter
  CHECK_FALSE(at::equal(all, counter_normal(6, at::arange(0, 10, at::kLong), 3, {4}, at::kDouble)));
  CHECK_FALSE(at::equal(all, counter_normal(5, at::arange(0, 10, at::kLong), 4, {4}, at::kDouble)));
}

TEST_CASE("counter noise is standard normal", "[core][noise]") {
  const int64_t n = 200000;
  at::Tensor z = counter_normal(1, at::arange(n, at::kLong), 0, {1}, at::kDouble).flatten();
  double mean = z.mean().item<double>(), var = z.var().item<double>();
  // Standard errors: 1/sqrt(n) for the mean, sqrt(2/n) for the variance; 5 sigma bounds.
  CHECK(std::abs(mean) < 5 / std::sqrt(double(n)));
  CHECK(std::abs(var - 1) < 5 * std::sqrt(2.0 / n));
  double p = (z.abs() < 1.0).to(at::kDouble).mean().item<double>();  // P(|z| < 1) = 0.682689
  CHECK(std::abs(p - 0.682689) < 5 * std::sqrt(0.682689 * 0.317311 / n));
  // Neighbouring samples are uncorrelated.
  at::Tensor zz = counter_normal(1, at::arange(n, at::kLong), 0, {2}, at::kDouble);
  double corr = (zz.select(1, 0) * zz.select(1, 1)).mean().item<double>();
  CHECK(std::abs(corr) < 5 / std::sqrt(double(n)));
}

TEST_CASE("the CPU loop gives the counter noise of the tensor formulas, bit for bit", "[core][noise]") {
  // Indices near 2^32 and large streams exercise the 32-bit wrap-around of both versions.
  at::Tensor idx = at::cat({at::arange(0, 300, at::kLong), at::arange(int64_t{4294967200}, int64_t{4294967400}, at::kLong)});
  for (int64_t stream : {int64_t{0}, int64_t{7}, int64_t{1} << 40}) {
    for (uint64_t seed : {uint64_t{0}, uint64_t{12345}, ~uint64_t{0}}) {
      CHECK(at::equal(counter_normal(seed, idx, stream, {3, 5}, at::kDouble),
                      counter_normal_ops(seed, idx, stream, {3, 5}, at::kDouble)));
    }
  }
  CHECK(at::equal(counter_normal(9, idx, 2, {16}, at::kFloat), counter_normal_ops(9, idx, 2, {16}, at::kFloat)));
}

namespace {
NoiseSource brownian_source(uint64_t seed, int64_t first, int64_t count, double T) {
  NoiseSource s = NoiseSource::range(seed, first, count, c10::Device(c10::kCPU));
  s.brownian_T = T;
  return s;
}
}  // namespace

TEST_CASE("the Brownian tree is one path per sample: coarse increments are sums of fine ones", "[core][noise]") {
  const double T = 1.0;
  NoiseSource src = brownian_source(3, 0, 64, T);
  at::Tensor like = at::zeros({64, 3}, at::kDouble);
  CHECK(at::equal(src.brownian_like(like, 0.0), at::zeros({64, 3}, at::kDouble)));
  // A non-dyadic coarse grid and a fine one refining each interval into 7 unequal pieces.
  std::vector<double> coarse{1.0, 0.73, 0.41, 0.2, 0.05, 1e-3};
  for (size_t k = 0; k + 1 < coarse.size(); ++k) {
    at::Tensor big = src.brownian_like(like, coarse[k]) - src.brownian_like(like, coarse[k + 1]);
    at::Tensor sum = at::zeros_like(big);
    for (int j = 0; j < 7; ++j) {
      const double a = coarse[k] + (coarse[k + 1] - coarse[k]) * std::pow(j / 7.0, 1.3);
      const double b = coarse[k] + (coarse[k + 1] - coarse[k]) * std::pow((j + 1) / 7.0, 1.3);
      sum += src.brownian_like(like, a) - src.brownian_like(like, b);
    }
    CHECK(at::allclose(big, sum, 0, 1e-12));
  }
  // The path of a sample does not depend on its batch: samples 40..63 alone.
  NoiseSource tail = brownian_source(3, 40, 24, T);
  CHECK(at::equal(src.brownian_like(like, 0.37).slice(0, 40), tail.brownian_like(like.slice(0, 40), 0.37)));
  // Another seed, another path.
  CHECK_FALSE(at::equal(src.brownian_like(like, 0.37), brownian_source(4, 0, 64, T).brownian_like(like, 0.37)));
}

TEST_CASE("the Brownian tree has the law of Brownian motion", "[core][noise]") {
  // Var W(t) = t, Var(W(t) - W(s)) = t - s, and increments over disjoint intervals are
  // uncorrelated, at dyadic and non-dyadic times; n paths, 5-sigma bounds (the variance of a
  // sample variance of n normals is 2 v^2 / n; of a product of independent ones, v1 v2 / n).
  const int64_t n = 40000;
  const double T = 2.0;
  NoiseSource src = brownian_source(9, 0, n, T);
  at::Tensor like = at::zeros({n, 1}, at::kDouble);
  std::vector<double> ts{2.0, 1.0, 0.7319, 0.5, 0.3, 0.12345, 0.001};
  std::vector<at::Tensor> w;
  for (double t : ts) w.push_back(src.brownian_like(like, t).flatten());
  for (size_t i = 0; i < ts.size(); ++i) {
    INFO("t = " << ts[i]);
    CHECK(std::abs(w[i].mean().item<double>()) < 5 * std::sqrt(ts[i] / n));
    CHECK(std::abs(w[i].pow(2).mean().item<double>() - ts[i]) < 5 * ts[i] * std::sqrt(2.0 / n));
  }
  for (size_t i = 0; i + 1 < ts.size(); ++i) {
    const double v = ts[i] - ts[i + 1];
    at::Tensor inc = w[i] - w[i + 1];
    INFO("increment over [" << ts[i + 1] << ", " << ts[i] << "]");
    CHECK(std::abs(inc.pow(2).mean().item<double>() - v) < 5 * v * std::sqrt(2.0 / n));
    if (i + 2 < ts.size()) {
      const double v2 = ts[i + 1] - ts[i + 2];
      at::Tensor next = w[i + 1] - w[i + 2];
      CHECK(std::abs((inc * next).mean().item<double>()) < 5 * std::sqrt(v * v2 / n));
    }
  }
}
