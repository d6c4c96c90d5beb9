#include <catch2/catch.hpp>

#include <cmath>

#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <H5Cpp.h>

#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "core/h5log.h"
#include "experiments/data/image_dataset.h"
#include "experiments/data/image_io.h"
#include "../test_util.h"

using namespace scorelab;
using Catch::Matchers::Contains;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
// An HDF5 file with 2 uint8 images [2, 4, 4] and a labels dataset of `n` values of `type`.
void write_labelled_h5(const std::string& path, const std::vector<double>& labels, const H5::PredType& type,
                       hsize_t n) {
  H5::H5File f(path, H5F_ACC_TRUNC);
  const hsize_t img_dims[3] = {2, 4, 4};
  std::vector<uint8_t> px(32, 7);
  f.createDataSet("images", H5::PredType::NATIVE_UINT8, H5::DataSpace(3, img_dims))
      .write(px.data(), H5::PredType::NATIVE_UINT8);
  f.createDataSet("labels", type, H5::DataSpace(1, &n)).write(labels.data(), H5::PredType::NATIVE_DOUBLE);
}
void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}
}  // namespace

TEST_CASE("the IDX reader round-trips small files, plain and gzip", "[experiments][data]") {
  std::string dir = test::scratch_dir("idx");
  at::Tensor imgs = at::randint(256, {5, 4, 3}, at::kLong).to(at::kByte);
  at::Tensor labels = at::tensor({1, 0, 9, 3, 3}, at::kLong).to(at::kByte);
  for (std::string ext : {"", ".gz"}) {
    write_idx(dir + "/img" + ext, imgs);
    write_idx(dir + "/lab" + ext, labels);
    ImageArray a = read_idx_pair(dir + "/img" + ext, dir + "/lab" + ext);
    CHECK(a.images.sizes() == at::IntArrayRef({5, 1, 4, 3}));
    CHECK(at::equal(a.images.squeeze(1), imgs));
    CHECK(at::equal(a.labels, labels.to(at::kLong)));
  }
}

TEST_CASE("the IDX reader rejects corrupted files with a clear error", "[experiments][data]") {
  std::string dir = test::scratch_dir("idx_bad");
  write_idx(dir + "/good", at::zeros({2, 2, 2}, at::kByte));
  std::ifstream in(dir + "/good", std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), {});
  auto bad_magic = b;
  bad_magic[2] = 0x0D;  // float data
  write_bytes(dir + "/magic", bad_magic);
  CHECK_THAT(error_of([&] { read_idx(dir + "/magic", 3); }), Contains("magic") && Contains("0x00000d03"));
  CHECK_THAT(error_of([&] { read_idx(dir + "/good", 1); }), Contains("wrong magic number"));
  write_bytes(dir + "/short", std::vector<uint8_t>(b.begin(), b.end() - 3));
  CHECK_THAT(error_of([&] { read_idx(dir + "/short", 3); }), Contains("truncated") && Contains("promises 8 bytes"));
  auto longer = b;
  longer.push_back(7);
  write_bytes(dir + "/long", longer);
  CHECK_THAT(error_of([&] { read_idx(dir + "/long", 3); }), Contains("1 bytes after the data"));
  write_bytes(dir + "/tiny", {0, 0});
  CHECK_THAT(error_of([&] { read_idx(dir + "/tiny", 3); }), Contains("truncated"));
  CHECK_THAT(error_of([&] { read_idx(dir + "/none", 3); }), Contains("no such file"));
  write_idx(dir + "/lab", at::zeros({3}, at::kByte));
  CHECK_THAT(error_of([&] { read_idx_pair(dir + "/good", dir + "/lab"); }), Contains("3 labels for 2 images"));
  for (const auto& name : {"magic", "short", "long", "tiny", "none"})
    CHECK_THROWS_AS(read_idx(dir + "/" + name, 3), DataError);
}

TEST_CASE("CIFAR-10 binary batches and HDF5 image files are read in their layouts", "[experiments][data]") {
  std::string dir = test::scratch_dir("cifar");
  std::vector<uint8_t> rec;
  for (int r = 0; r < 3; ++r) {
    rec.push_back(static_cast<uint8_t>(r + 4));
    for (int i = 0; i < 3072; ++i) rec.push_back(static_cast<uint8_t>((i / 1024) * 10 + r));
  }
  write_bytes(dir + "/b.bin", rec);
  ImageArray c = read_cifar10({dir + "/b.bin"});
  CHECK(c.images.sizes() == at::IntArrayRef({3, 3, 32, 32}));
  CHECK(c.labels[2].item<int64_t>() == 6);
  CHECK(c.images[2][1][5][5].item<uint8_t>() == 12);  // channel-major: channel 1 of record 2
  rec.pop_back();
  write_bytes(dir + "/cut.bin", rec);
  CHECK_THAT(error_of([&] { read_cifar10({dir + "/cut.bin"}); }), Contains("not a whole number of CIFAR-10 records"));
  // HDF5, NHWC uint8.
  at::Tensor nhwc = at::arange(2 * 4 * 4 * 3, at::kLong).remainder(256).to(at::kByte).reshape({2, 4, 4, 3});
  write_h5_file(dir + "/imgs.h5", "images", nhwc.to(at::kFloat) / 255.0);
  ImageArray h = read_hdf5_images(dir + "/imgs.h5", "images", "NHWC", "");
  CHECK(h.images.sizes() == at::IntArrayRef({2, 3, 4, 4}));
  CHECK(at::allclose(h.images, nhwc.permute({0, 3, 1, 2}).to(at::kFloat) / 255.0));
  CHECK_THAT(error_of([&] { read_hdf5_images(dir + "/imgs.h5", "images", "NHW", ""); }), Contains("layout NHW needs 3"));
  CHECK_THAT(error_of([&] { read_hdf5_images(dir + "/imgs.h5", "pixels", "NHWC", ""); }), Contains("no dataset 'pixels'"));
  // Non-finite pixels are refused, not trained on.
  at::Tensor bad = nhwc.to(at::kFloat) / 255.0;
  bad[1][2][3][0] = std::nanf("");
  bad[0][0][0][1] = INFINITY;
  write_h5_file(dir + "/bad.h5", "images", bad);
  CHECK_THAT(error_of([&] { read_hdf5_images(dir + "/bad.h5", "images", "NHWC", ""); }), Contains("holds 2 non-finite values"));
  // Labels: integer class indices 0..kMaxClasses-1, one per image.
  write_labelled_h5(dir + "/lab.h5", {3, 9}, H5::PredType::NATIVE_INT32, 2);
  ImageArray l = read_hdf5_images(dir + "/lab.h5", "images", "NHW", "labels");
  CHECK(l.labels.dtype() == at::kLong);
  CHECK(l.labels[1].item<int64_t>() == 9);
  write_labelled_h5(dir + "/neg.h5", {3, -1}, H5::PredType::NATIVE_INT32, 2);
  CHECK_THAT(error_of([&] { read_hdf5_images(dir + "/neg.h5", "images", "NHW", "labels"); }),
             Contains("neg.h5") && Contains("1 values outside 0..9999") && Contains("index 1: -1"));
  write_labelled_h5(dir + "/huge.h5", {1e9, 2}, H5::PredType::NATIVE_INT64, 2);
  CHECK_THAT(error_of([&] { read_hdf5_images(dir + "/huge.h5", "images", "NHW", "labels"); }),
             Contains("index 0: 1000000000"));
  write_labelled_h5(dir + "/float.h5", {0.5, 1.5}, H5::PredType::NATIVE_DOUBLE, 2);
  CHECK_THAT(error_of([&] { read_hdf5_images(dir + "/float.h5", "images", "NHW", "labels"); }),
             Contains("float.h5") && Contains("1-D dataset of integers"));
  write_labelled_h5(dir + "/three.h5", {0, 1, 2}, H5::PredType::NATIVE_INT32, 3);
  CHECK_THAT(error_of([&] { read_hdf5_images(dir + "/three.h5", "images", "NHW", "labels"); }),
             Contains("3 labels for 2 images"));
  for (const auto& name : {"neg", "huge", "float", "three"})
    CHECK_THROWS_AS(read_hdf5_images(dir + "/" + name + ".h5", "images", "NHW", "labels"), DataError);
}

TEST_CASE("the loader shuffles whole epochs, prefetches the same stream, and transforms", "[experiments][data]") {
  // Image i is filled with the value i, so a batch tells which images it holds.
  const int64_t N = 10;
  ImageArray a{at::arange(N, at::kLong).to(at::kByte).view({N, 1, 1, 1}).expand({N, 1, 2, 2}).contiguous(), {}};
  ImageTransform tf;
  tf.scale = "zero_one";
  ImageDataset plain("t", a, tf, 5, 0), prefetched("t", a, tf, 5, 3);
  at::Generator g = make_generator(0);
  std::vector<int64_t> seen;
  for (int b = 0; b < 5; ++b) {
    at::Tensor x = plain.batch(4, g), y = prefetched.batch(4, g);
    CHECK(at::equal(x, y));
    for (int64_t i = 0; i < 4; ++i) seen.push_back(std::lround(x[i][0][0][0].item<double>() * 255));
  }
  // The first 20 draws are two whole epochs: every image exactly twice.
  std::vector<int64_t> counts(N, 0);
  for (auto v : seen) counts[v]++;
  CHECK(counts == std::vector<int64_t>(N, 2));
  // Transforms.
  ImageTransform t2;
  t2.dequantize = true;
  ImageDataset deq("t", a, t2, 5, 0);
  at::Tensor x = deq.batch(N, g);
  CHECK(x.min().item<double>() >= -1.0);
  CHECK(x.max().item<double>() <= -1.0 + 2.0 * 10.0 / 256.0);
  ImageArray ramp{at::arange(4, at::kLong).to(at::kByte).view({1, 1, 1, 4}).expand({64, 1, 1, 4}).contiguous(), {}};
  ImageTransform t3;
  t3.flip = true;
  at::Tensor f = ImageDataset("t", ramp, t3, 1, 0).batch(64, g);
  int64_t flipped = (f.select(3, 0) > f.select(3, 3)).sum().item<int64_t>();
  CHECK(flipped > 0);
  CHECK(flipped < 64);
  ImageTransform t4;
  t4.resize = 8;
  t4.crop = 6;
  CHECK(ImageDataset("t", a, t4, 1, 0).sample_shape() == std::vector<int64_t>{1, 6, 6});
}

TEST_CASE("a loader restored to a checkpointed position draws the batches that followed it", "[experiments][data][reliability]") {
  // Random flips and dequantization draw from the loader's generator; 7 images in batches of 3
  // cross epochs (new permutations) between batches.
  const int64_t N = 7;
  ImageArray a{at::arange(N * 4, at::kLong).to(at::kByte).view({N, 1, 2, 2}), {}};
  ImageTransform tf;
  tf.flip = true;
  tf.dequantize = true;
  at::Generator g = make_generator(0);
  for (int64_t prefetch : {0, 3}) {
    CAPTURE(prefetch);
    ImageDataset first("t", a, tf, 11, prefetch);
    for (int b = 0; b < 4; ++b) first.batch(3, g);
    const std::vector<at::Tensor> position = first.stream_state();  // what a checkpoint keeps
    std::vector<at::Tensor> expected;
    for (int b = 0; b < 5; ++b) expected.push_back(first.batch(3, g));
    ImageDataset resumed("t", a, tf, 11, prefetch);
    resumed.set_stream_state(position);
    for (int b = 0; b < 5; ++b) CHECK(at::equal(resumed.batch(3, g), expected[static_cast<size_t>(b)]));
    // Without the position a new loader starts the stream over: not the same batches.
    ImageDataset fresh("t", a, tf, 11, prefetch);
    CHECK_FALSE(at::equal(fresh.batch(3, g), expected[0]));
  }
}

TEST_CASE("data config errors name the key", "[experiments][data]") {
  Config bad = Config::from_string("data: {type: mnist, path: /nonexistent/mnist}\n", "d.yaml");
  CHECK_THAT(error_of([&] { image_dataset_from("mnist", bad.at("data"), 0); }),
             Contains("d.yaml:1: data.path") && Contains("does not exist"));
  std::string dir = test::scratch_dir("shape");
  write_idx(dir + "/train-images-idx3-ubyte", at::zeros({3, 5, 5}, at::kByte));
  write_idx(dir + "/train-labels-idx1-ubyte", at::zeros({3}, at::kByte));
  Config shape = Config::from_string("data: {type: mnist, path: '" + dir + "', shape: [1, 28, 28]}\n", "d.yaml");
  CHECK_THAT(error_of([&] { image_dataset_from("mnist", shape.at("data"), 0); }),
             Contains("data.shape") && Contains("[1, 5, 5]"));
  Config crop = Config::from_string("data: {type: mnist, path: '" + dir + "', crop: 9}\n", "d.yaml");
  CHECK_THAT(error_of([&] { image_dataset_from("mnist", crop.at("data"), 0); }), Contains("data.crop"));
}

TEST_CASE("Fashion-MNIST loads 60000 / 10000 images of 28x28 with 10 balanced classes", "[experiments][data][fmnist]") {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist is not installed: skipped (scripts/setup.sh installs it)");
    return;
  }
  for (std::string split : {"train", "test"}) {
    Config c = Config::from_string("data: {type: fashion_mnist, split: " + split + "}\n", "f.yaml");
    auto ds = std::dynamic_pointer_cast<ImageDataset>(image_dataset_from("fashion_mnist", c.at("data"), 0));
    REQUIRE(ds);
    int64_t n = split == "train" ? 60000 : 10000;
    CHECK(ds->data().images.sizes() == at::IntArrayRef({n, 1, 28, 28}));
    CHECK(ds->sample_shape() == std::vector<int64_t>{1, 28, 28});
    at::Tensor counts = at::bincount(ds->data().labels);
    CHECK(counts.size(0) == 10);
    CHECK((counts == n / 10).all().item<bool>());
  }
}

#include "experiments/trainer.h"
#include "networks/lr_schedule.h"
#include "experiments/training_state.h"

TEST_CASE("the DDPM CIFAR-10 recipe config builds the paper's setup: 35.7M U-Net, warm-up, flips, EMA 0.9999",
          "[experiments][data][recipe]") {
  // Stand-in CIFAR-10 batches (a few records each) where the recipe expects the real ones.
  std::string dir = test::scratch_dir("cifar_recipe");
  std::vector<uint8_t> rec;
  for (int r = 0; r < 4; ++r) {
    rec.push_back(static_cast<uint8_t>(r));
    for (int i = 0; i < 3072; ++i) rec.push_back(static_cast<uint8_t>((i * 7 + r) % 256));
  }
  for (const char* f : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                        "data_batch_5.bin", "test_batch.bin"})
    write_bytes(dir + "/" + f, rec);
  Config cfg = Config::load_file(std::string(SCORELAB_SOURCE_DIR) + "/experiments/configs/ddpm_cifar10.yaml",
                                 {"data.path=" + dir, "run.device=cpu", "run.out_dir=" + dir + "/runs"});
  Experiment ex = build_experiment(cfg, "ddpm_cifar10");
  int64_t params = 0;
  for (const auto& p : ex.make_model()->module()->parameters()) params += p.numel();
  CHECK(params == 35746307);  // Ho et al. 2020, sec. 4: 35.7M (the released model's count)
  CHECK(ex.data->sample_shape() == std::vector<int64_t>{3, 32, 32});
  CHECK(ex.train.batch_size == 128);
  CHECK(ex.train.ema_decay == 0.9999);
  CHECK(ex.train.grad_clip == 1.0);
  CHECK(ex.train.steps == 800000);
  const LrSchedule s = lr_schedule(ex);
  CHECK(s.at(2500) == Approx(1e-4).epsilon(1e-12));  // halfway through the 5000-step warm-up
  CHECK(s.at(5000) == Approx(2e-4).epsilon(1e-12));
  CHECK(s.at(800000) == Approx(2e-4).epsilon(1e-12));
  CHECK(cfg.at("data").get_bool("flip", false));
}
