#include "experiments/image_dataset.h"

#include <filesystem>

#include <ATen/ATen.h>

#include "core/config.h"
#include "core/device.h"
#include "core/error.h"

namespace scorelab {

ImageDataset::ImageDataset(std::string name, ImageArray data, ImageTransform tf, uint64_t seed, int64_t prefetch)
    : name_(std::move(name)), data_(std::move(data)), tf_(tf), gen_(make_generator(seed ^ 0xda7aULL)), prefetch_(prefetch) {
  at::Generator g = make_generator(0);
  shape_ = transform(data_.images.slice(0, 0, 1), g).sizes().slice(1).vec();
}

ImageDataset::~ImageDataset() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

at::Tensor ImageDataset::transform(const at::Tensor& raw, at::Generator& gen) const {
  at::Tensor x = raw.scalar_type() == at::kByte ? raw.to(at::kFloat) : raw.to(at::kFloat) * 255.0;
  x = tf_.dequantize ? (x + at::rand(x.sizes(), gen, x.options())) / 256.0 : x / 255.0;  // [0, 1]
  if (tf_.flip) {
    at::Tensor f = at::rand({x.size(0)}, gen, x.options()) < 0.5;
    x = at::where(f.view({-1, 1, 1, 1}), x.flip({3}), x);
  }
  if (tf_.resize > 0) x = at::upsample_bilinear2d(x, {tf_.resize, tf_.resize}, /*align_corners=*/false);
  if (tf_.crop > 0) {
    int64_t top = (x.size(2) - tf_.crop) / 2, left = (x.size(3) - tf_.crop) / 2;
    x = x.slice(2, top, top + tf_.crop).slice(3, left, left + tf_.crop);
  }
  return tf_.scale == "minus_one_one" ? 2.0 * x - 1.0 : x;
}

at::Tensor ImageDataset::next_batch(int64_t n) {
  std::vector<at::Tensor> idx;
  int64_t need = n;
  while (need > 0) {
    if (!perm_.defined() || cursor_ >= perm_.size(0)) {
      perm_ = at::randperm(data_.images.size(0), gen_, at::kLong);
      cursor_ = 0;
    }
    int64_t take = std::min(need, perm_.size(0) - cursor_);
    idx.push_back(perm_.slice(0, cursor_, cursor_ + take));
    cursor_ += take;
    need -= take;
  }
  return transform(data_.images.index_select(0, at::cat(idx)), gen_);
}

void ImageDataset::worker() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || static_cast<int64_t>(queue_.size()) < prefetch_; });
      if (stop_) return;
    }
    at::Tensor b = next_batch(batch_n_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(b);
    }
    cv_.notify_all();
  }
}

at::Tensor ImageDataset::batch(int64_t n, at::Generator&) {
  if (prefetch_ <= 0) return next_batch(n);
  if (!thread_.joinable()) {
    batch_n_ = n;
    thread_ = std::thread([this] { worker(); });
  }
  TORCH_CHECK(n == batch_n_, "ImageDataset: prefetching serves batches of ", batch_n_, ", asked for ", n);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty(); });
  at::Tensor b = queue_.front();
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  return b;
}

at::Tensor ImageDataset::sample(int64_t n, at::Generator& gen) {
  at::Tensor idx = at::randint(data_.images.size(0), {n}, gen, at::kLong);
  return transform(data_.images.index_select(0, idx), gen);
}

std::shared_ptr<Dataset> image_dataset_from(const std::string& type, const Config& cfg, uint64_t seed) {
  ImageArray a;
  std::string split = cfg.get_choice("split", "train", {"train", "test"});
  try {
    if (type == "fashion_mnist" || type == "mnist") {
      std::string def = type == "fashion_mnist" ? "/usr/share/datasets/fashion-mnist" : "";
      std::string dir = def.empty() ? cfg.get_string("path") : cfg.get_string("path", def);
      std::string pre = split == "train" ? "train" : "t10k";
      auto pick = [&](const std::string& stem) {
        std::string gz = dir + "/" + stem + ".gz";
        return std::filesystem::exists(gz) ? gz : dir + "/" + stem;
      };
      if (!std::filesystem::exists(dir))
        cfg.fail("path", "'" + dir + "' does not exist" +
                             (type == "fashion_mnist" ? " (install the Debian package dataset-fashion-mnist)" : ""));
      a = read_idx_pair(pick(pre + "-images-idx3-ubyte"), pick(pre + "-labels-idx1-ubyte"));
    } else if (type == "cifar10") {
      std::string dir = cfg.get_string("path");
      std::vector<std::string> files;
      if (split == "train")
        for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
      else
        files.push_back(dir + "/test_batch.bin");
      a = read_cifar10(files);
    } else {
      a = read_hdf5_images(cfg.get_string("path"), cfg.get_string("dataset", "images"),
                           cfg.get_choice("layout", "NCHW", {"NCHW", "NHWC", "NHW"}), cfg.get_string("labels", ""));
    }
  } catch (const DataError& e) {
    cfg.fail("path", e.what());
  }
  ImageTransform tf;
  tf.scale = cfg.get_choice("scale", tf.scale, {"minus_one_one", "zero_one"});
  tf.dequantize = cfg.get_bool("dequantize", tf.dequantize);
  tf.flip = cfg.get_bool("flip", tf.flip);
  tf.resize = cfg.get_int("resize", 0, 0, 4096);
  tf.crop = cfg.get_int("crop", 0, 0, 4096);
  int64_t side = tf.resize > 0 ? tf.resize : std::min(a.images.size(2), a.images.size(3));
  if (tf.crop > side) cfg.fail("crop", "crop " + std::to_string(tf.crop) + " exceeds the image size " + std::to_string(side));
  int64_t prefetch = cfg.get_int("prefetch", 2, 0, 64);
  auto ds = std::make_shared<ImageDataset>(type, std::move(a), tf, seed, prefetch);
  std::vector<int64_t> expect = cfg.get_int_list("shape", {});
  if (!expect.empty() && expect != ds->sample_shape()) {
    std::string got;
    for (auto d : ds->sample_shape()) got += (got.empty() ? "" : ", ") + std::to_string(d);
    cfg.fail("shape", "the data has examples of shape [" + got + "] after transforms");
  }
  return ds;
}

}  // namespace scorelab
