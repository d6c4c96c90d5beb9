#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "core/checkpoint.h"
#include "core/device.h"
#include "networks/fused_adam.h"
#include "../test_util.h"

using namespace scorelab;

TEST_CASE("checkpoint round trip restores parameters, EMA, optimizer and RNG bit for bit", "[core][checkpoint]") {
  std::string dir = test::scratch_dir("ckpt");
  std::string path = dir + "/last.pt";
  torch::nn::Linear a(3, 4), b(3, 4);
  AdamOptions o;
  o.lr = 1e-2;
  FusedAdam opt_a(a->parameters(), o, nullptr);
  // One optimiser step so the Adam moments are non-trivial.
  a(at::randn({5, 3})).pow(2).sum().backward();
  opt_a.step();
  std::vector<at::Tensor> ema{at::randn({4, 3}), at::randn({4})};
  at::Generator g = make_generator(11);
  at::randn({10}, g);
  CheckpointMeta meta{123, "run: {seed: 1}\n", {g.get_state()}, 17};
  save_checkpoint(path, *a, ema, &opt_a, meta);

  FusedAdam opt_b(b->parameters(), o, nullptr);
  std::vector<at::Tensor> ema_b;
  CheckpointMeta got = load_checkpoint(path, b.get(), &ema_b, &opt_b);
  opt_b.rebind();  // the load replaced b's parameter storage
  CHECK(got.step == 123);
  CHECK(got.ema_updates == 17);
  CHECK(got.config_yaml == meta.config_yaml);
  CHECK(at::equal(a->weight, b->weight));
  CHECK(at::equal(a->bias, b->bias));
  CHECK(opt_b.steps() == 1);
  REQUIRE(ema_b.size() == 2);
  CHECK(at::equal(ema_b[0], ema[0]));
  // The optimiser continues identically: one more step on the same gradient.
  at::Tensor x = at::randn({5, 3});
  opt_a.zero_grad();
  for (auto* m : {&a, &b}) (*m)(x).pow(2).sum().backward();
  opt_a.step();
  opt_b.step();
  CHECK(at::equal(a->weight, b->weight));
  CHECK(at::equal(a->bias, b->bias));
  // The generator continues the same stream.
  at::Generator g2 = make_generator(999);
  g2.set_state(got.rng_states.at(0));
  CHECK(at::equal(at::randn({4}, g), at::randn({4}, g2)));
  // Only the checkpoint is in the directory: no temporary file left.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("loading a missing or corrupt checkpoint names the file", "[core][checkpoint]") {
  std::string dir = test::scratch_dir("ckpt_bad");
  CHECK_THROWS_WITH(load_checkpoint(dir + "/none.pt", nullptr, nullptr, nullptr), Catch::Contains("none.pt"));
  { std::ofstream(dir + "/junk.pt") << "not a checkpoint"; }
  CHECK_THROWS_WITH(load_checkpoint(dir + "/junk.pt", nullptr, nullptr, nullptr), Catch::Contains("junk.pt"));
}
