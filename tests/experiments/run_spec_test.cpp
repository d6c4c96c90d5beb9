// RunSpec: a config described and validated before anything is built.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>

#include "core/error.h"
#include "experiments/data/gmm_dataset.h"
#include "experiments/data/image_io.h"
#include "experiments/experiment.h"
#include "experiments/run_spec.h"
#include "networks/mlp.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;

TEST_CASE("RunSpec round trip: YAML -> spec -> resolved YAML -> spec -> the same YAML", "[experiments][spec]") {
  for (const char* name : {"quickstart", "ncsn", "oracle_gmm", "ddpm_small", "fmnist_ddpm"}) {
    INFO(name);
    std::string path = std::string(SCORELAB_SOURCE_DIR) + "/experiments/configs/" + name + ".yaml";
    RunSpec a = RunSpec::from(Config::load_file(path), name);
    std::string text = a.resolved_yaml();
    RunSpec b = RunSpec::from(Config::from_string(text, "resolved.yaml"), name);
    CHECK(b.resolved_yaml() == text);
    CHECK(b.run_dir() == a.run_dir());
    CHECK(b.data_info.shape == a.data_info.shape);
    CHECK(b.train.steps == a.train.steps);
    CHECK(b.sample.n == a.sample.n);
    CHECK(b.eval.headline == a.eval.headline);
  }
}

TEST_CASE("validating a spec builds no data set and no network", "[experiments][spec]") {
  int models = 0, datasets = 0;
  Registries reg;
  register_builtin(reg);
  reg.data.add("counted_gmm", [&](const Config& c, uint64_t) -> std::shared_ptr<Dataset> {
    ++datasets;
    return std::make_shared<GMMDataset>(GaussianMixture::from(c));
  });
  reg.data_info.add("counted_gmm", [](const Config& c) {
    return std::make_shared<DataInfo>(DataInfo{{GaussianMixture::from(c).dim()}, false, true});
  });
  reg.model.add(
      "counted_mlp",
      [&](const Config& c, ModelContext ctx) -> std::shared_ptr<ScoreModel> {
        ++models;
        auto net = std::make_shared<MLPImpl>(MLPOptions::from(c, ctx.sample_shape[0], ctx.seed));
        return std::make_shared<NeuralScoreModel>(net, ctx.sde, Parameterization::eps);
      },
      [](const Config& c, ModelContext ctx) { MLPOptions::from(c, ctx.sample_shape[0], ctx.seed); });
  Config cfg = Config::from_string(
      "data: {type: counted_gmm, means: [[1.0, 0.0], [-1.0, 0.0]], std: 0.3}\n"
      "model: {type: counted_mlp, hidden: 16, depth: 2, embed_dim: 8}\n", "c.yaml");
  RunSpec spec = RunSpec::from(cfg, "c", reg);
  CHECK(spec.data_info.shape == std::vector<int64_t>{2});
  CHECK((models == 0 && datasets == 0));
  Experiment ex = build_experiment(spec, reg);
  CHECK((models == 0 && datasets == 1));  // the model is built when a command asks for it
  ex.make_model();
  CHECK(models == 1);
  // A typo in the model section is found by the spec, before anything is built.
  CHECK_THROWS_WITH(RunSpec::from(Config::from_string("data: {type: counted_gmm, means: [[1.0, 0.0]]}\n"
                                                      "model: {type: counted_mlp, hiden: 16}\n", "t.yaml"), "t", reg),
                    Catch::Contains("t.yaml:2: model.hiden: unknown key"));
  CHECK((models == 1 && datasets == 1));
}

TEST_CASE("an image spec reads only the files' headers", "[experiments][spec]") {
  std::string dir = test::scratch_dir("spec_images");
  write_idx(dir + "/train-images-idx3-ubyte", at::zeros({10, 8, 8}, at::kByte));
  write_idx(dir + "/train-labels-idx1-ubyte", at::zeros({10}, at::kByte));
  // Cut the images short: the header still says 10 images of 8x8, reading them fails.
  fs::resize_file(dir + "/train-images-idx3-ubyte", 16 + 5 * 64);
  Config cfg = Config::from_string("data: {type: mnist, path: '" + dir + "', resize: 12, crop: 10}\n"
                                   "model: {type: unet, ch: 16, ch_mult: [1], num_res_blocks: 1, "
                                   "attn_resolutions: []}\ntrain: {steps: 0}\neval: {fd: false}\n",
                                   "img.yaml");
  RunSpec spec = RunSpec::from(cfg, "img");
  CHECK(spec.data_info.shape == std::vector<int64_t>{1, 10, 10});  // resized to 12, cropped to 10
  CHECK(spec.data_info.labelled);
  CHECK_THROWS_WITH(build_experiment(spec), Catch::Contains("truncated"));
}

TEST_CASE("config errors in several sections are all reported at once", "[experiments][spec][reliability]") {
  Config cfg = Config::from_string("run: {name: e}\ntrain: {lr: -1}\nmodel: {hidden: 0}\nsample: {steps: 0}\n"
                                   "eval: {n: 0}\ndata: {type: eight_gaussians}\n", "e.yaml");
  std::string message;
  try {
    RunSpec::from(cfg, "e");
  } catch (const ConfigError& err) {
    message = err.what();
  }
  CHECK_THAT(message, Catch::Contains("4 errors:"));
  CHECK_THAT(message, Catch::Contains("e.yaml:2: train.lr: must be > 0"));
  CHECK_THAT(message, Catch::Contains("e.yaml:3: model.hidden: must be in"));
  CHECK_THAT(message, Catch::Contains("e.yaml:4: sample.steps: must be"));
  CHECK_THAT(message, Catch::Contains("e.yaml:5: eval.n: must be"));
}
