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
