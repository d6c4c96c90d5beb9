// Schedule tables meet other dtypes (and, on a GPU, devices) once: the copy is made on the first
// use and reused after (core/table_cache.h), and the DDPM chain's lookups use it.
#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "core/table_cache.h"
#include "sde/ddpm.h"

using namespace scorelab;

TEST_CASE("a table is converted once per dtype and device, and the copy is reused", "[core][tables]") {
  TableCache cache;
  const at::Tensor table = at::linspace(0.0, 1.0, 11, at::kDouble);
  const at::Tensor f32 = at::zeros({3}, at::kFloat), f64 = at::zeros({3}, at::kDouble);
  CHECK(cache.as(table, f64).data_ptr() == table.data_ptr());  // already right: no copy
  const at::Tensor& a = cache.as(table, f32);
  CHECK(a.scalar_type() == at::kFloat);
  CHECK(at::equal(a, table.to(at::kFloat)));
  CHECK(cache.as(table, f32).data_ptr() == a.data_ptr());  // the same copy the second time
  CHECK(cache.size() == 1);
}

TEST_CASE("the DDPM chain's lookups in float32 convert each table once and equal the float64 lookups",
          "[core][tables][sde]") {
  const DDPMChain c = DDPMChain::linear(1000, 1e-4, 0.02);
  const at::Tensor i = at::tensor({1, 500, 1000}, at::kLong), like = at::zeros({3}, at::kFloat);
  for (int rep = 0; rep < 3; ++rep) {
    CHECK(at::equal(c.posterior_c0(i, like), c.post_c0.index_select(0, i - 1).to(at::kFloat)));
    CHECK(at::equal(c.posterior_variance(i, like), c.post_var.index_select(0, i - 1).to(at::kFloat)));
    CHECK(at::equal(c.at_step(c.betas, i, like), c.betas.index_select(0, i - 1).to(at::kFloat)));
  }
  CHECK(c.cache->size() == 3);  // post_c0, post_var, betas: once each over three repeats
  const DDPMChain copy = c;      // copies share the tables and their cache
  copy.at_step(copy.alpha_bars, i, like);
  CHECK(c.cache->size() == 4);
}
