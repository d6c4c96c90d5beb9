// Every input a fuzz target (scripts/fuzz.sh) has found a crash with is kept in
// tests/fuzz/regressions/<target>/ and replayed here through the same check, without libFuzzer.
#include <catch2/catch.hpp>

#include <filesystem>

#include "core/fsutil.h"
#include "../fuzz/targets.h"

using namespace scorelab;
namespace fs = std::filesystem;

namespace {
std::vector<std::string> findings(const std::string& target) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(std::string(SCORELAB_SOURCE_DIR) + "/tests/fuzz/regressions/" + target))
    files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}
}  // namespace

TEST_CASE("inputs the fuzzers crashed on are now read or refused with a clear error", "[core][fuzz][reliability]") {
  const auto config = findings("config"), images = findings("image_readers"), checkpoints = findings("checkpoint");
  CHECK(config.size() + images.size() + checkpoints.size() >= 3);
  for (const auto& f : config) {
    INFO(f);
    CHECK_NOTHROW(fuzz::check_config(read_text(f)));
  }
  for (const auto& f : images) {
    INFO(f);
    CHECK_NOTHROW(fuzz::check_image_readers(f));
  }
  for (const auto& f : checkpoints) {
    INFO(f);
    CHECK_NOTHROW(fuzz::check_checkpoint(f));
  }
  // What the fixes say: a zero channel multiplier names its key; a checkpoint without the
  // optimizer part it is asked for names the file.
  const std::string dir = std::string(SCORELAB_SOURCE_DIR) + "/tests/fuzz/regressions/";
  auto config_error = [&](const std::string& file) {
    try {
      Config cfg = Config::from_string(read_text(dir + "config/" + file), file);
      RunSpec::from(cfg, "fuzz");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(config_error("unet_ch_mult_zero.yaml"),
             Catch::Matchers::Contains("model.ch_mult") && Catch::Matchers::Contains("[1, 64]"));
  CHECK_THAT(config_error("complex_yaml_key.yaml"),
             Catch::Matchers::Contains("complex_yaml_key.yaml:12:") && Catch::Matchers::Contains("plain name"));
  // Inputs that crash the libraries themselves: read in a child process first, reported.
  CHECK_THROWS_WITH(read_hdf5_images(dir + "image_readers/hdf5_crashes_in_symbol_table.bin", "images", "NCHW", ""),
                    Catch::Matchers::Contains("HDF5 library crashed reading this file"));
  fuzz::CheckpointState s;
  CHECK_THROWS_WITH(load_checkpoint(dir + "checkpoint/legacy_crashes_libtorch_parser.pt", s.net.get(), nullptr, nullptr),
                    Catch::Matchers::Contains("LibTorch crashed reading this checkpoint"));
  std::vector<at::Tensor> ema;
  CHECK_THROWS_WITH(load_checkpoint(dir + "checkpoint/missing_optimizer_part.pt", s.net.get(), &ema, &s.adam),
                    Catch::Matchers::Contains("missing_optimizer_part.pt") && Catch::Matchers::Contains("damaged or incomplete"));
}
