#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "core/checkpoint.h"
#include "core/device.h"
#include "core/fsutil.h"
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

namespace {
// Flips one bit of the first occurrence of float `value` in the file; false if absent.
bool flip_bit_of_value(const std::string& path, float value) {
  std::string bytes = read_text(path);
  const std::string pattern(reinterpret_cast<const char*>(&value), sizeof value);
  const size_t at = bytes.find(pattern);
  if (at == std::string::npos) return false;
  bytes[at + 1] = static_cast<char>(bytes[at + 1] ^ 0x10);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return true;
}
}  // namespace

TEST_CASE("a damaged or NaN-poisoned checkpoint is reported, not loaded", "[core][checkpoint][reliability]") {
  std::string dir = test::scratch_dir("ckpt_damage");
  torch::nn::Linear net(3, 4);
  {
    torch::NoGradGuard no_grad;
    net->weight.fill_(1234.5f);  // values the test can find in the file
    net->bias.fill_(-3.0f);
  }
  AdamOptions o;
  FusedAdam opt(net->parameters(), o, nullptr);
  std::vector<at::Tensor> ema{at::full({4, 3}, 777.25f), at::zeros({4})};
  CheckpointMeta meta{5, "run: {seed: 1}\n", {}, 5};
  auto fresh = [&](const std::string& name) {
    const std::string path = dir + "/" + name;
    save_checkpoint(path, *net, ema, &opt, meta);
    return path;
  };
  torch::nn::Linear into(3, 4);
  std::vector<at::Tensor> ema_in;
  CHECK_NOTHROW(load_checkpoint(fresh("good.pt"), into.get(), &ema_in, nullptr));
  // The file's envelope: one flipped bit anywhere fails the whole-file checksum before LibTorch
  // parses anything; a truncated file fails its length.
  const std::string whole = fresh("whole.pt");
  REQUIRE(flip_bit_of_value(whole, 1234.5f));
  CHECK_THROWS_WITH(load_checkpoint(whole, into.get(), nullptr, nullptr),
                    Catch::Contains("whole.pt") && Catch::Contains("does not match its checksum"));
  const std::string cut = fresh("cut.pt");
  {
    std::string b = read_text(cut);
    std::ofstream(cut, std::ios::binary | std::ios::trunc) << b.substr(0, b.size() - 100);
  }
  CHECK_THROWS_WITH(load_checkpoint(cut, into.get(), nullptr, nullptr), Catch::Contains("truncated"));
  // Inside (and in checkpoints of earlier versions, which have no envelope: the payload alone),
  // each part has its own checksum. One flipped bit in the model's weights:
  auto unwrapped = [&](const std::string& name) {
    const std::string path = fresh(name);
    const std::string b = read_text(path);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << b.substr(32);
    return path;
  };
  CHECK_NOTHROW(load_checkpoint(unwrapped("legacy.pt"), into.get(), &ema_in, nullptr));
  const std::string m = unwrapped("model.pt");
  REQUIRE(flip_bit_of_value(m, 1234.5f));
  CHECK_THROWS_WITH(load_checkpoint(m, into.get(), nullptr, nullptr), Catch::Contains("model part does not match its checksum"));
  // ... and the EMA's.
  const std::string e = unwrapped("ema.pt");
  REQUIRE(flip_bit_of_value(e, 777.25f));
  CHECK_THROWS_WITH(load_checkpoint(e, nullptr, &ema_in, nullptr), Catch::Contains("ema part does not match its checksum"));
  // Metadata: a changed byte of the recorded config.
  const std::string c = unwrapped("meta.pt");
  std::string bytes = read_text(c);
  const size_t at = bytes.find("seed: 1");
  REQUIRE(at != std::string::npos);
  bytes[at + 6] = '7';
  std::ofstream(c, std::ios::binary | std::ios::trunc) << bytes;
  CHECK_THROWS_WITH(load_checkpoint(c, nullptr, nullptr, nullptr), Catch::Contains("meta part does not match"));
  // Non-finite weights written by anything (the trainer never does) are refused on load.
  ema[1][0] = std::nanf("");
  const std::string n = fresh("nan.pt");
  CHECK_THROWS_WITH(load_checkpoint(n, nullptr, &ema_in, nullptr), Catch::Contains("EMA weights are not all finite"));
}
