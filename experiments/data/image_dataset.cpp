#include "experiments/data/image_dataset.h"

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

LabelledBatch ImageDataset::next_batch(int64_t n) {
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
  at::Tensor i = at::cat(idx);
  at::Tensor x = transform(data_.images.index_select(0, i), gen_);
  return {x, data_.labels.defined() ? data_.labels.index_select(0, i) : at::Tensor()};
}

void ImageDataset::worker() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || static_cast<int64_t>(queue_.size()) < prefetch_; });
      if (stop_) return;
    }
    LabelledBatch b = next_batch(batch_n_);
    std::vector<at::Tensor> pos = position();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.emplace_back(b, std::move(pos));
    }
    cv_.notify_all();
  }
}

std::vector<at::Tensor> ImageDataset::position() const {
  return {gen_.get_state(), perm_.defined() ? perm_ : at::empty({0}, at::kLong), at::scalar_tensor(cursor_, at::kLong)};
}

std::vector<at::Tensor> ImageDataset::stream_state() const {
  if (prefetch_ <= 0 || !thread_.joinable()) return position();
  std::lock_guard<std::mutex> lock(mu_);
  return handed_out_;
}

void ImageDataset::set_stream_state(const std::vector<at::Tensor>& state) {
  TORCH_CHECK(!thread_.joinable(), "ImageDataset: the stream position is set before the first batch");
  if (state.size() != 3) return;
  gen_.set_state(state[0]);
  perm_ = state[1].numel() > 0 ? state[1].clone() : at::Tensor();
  cursor_ = state[2].item<int64_t>();
}

LabelledBatch ImageDataset::labelled_batch(int64_t n, at::Generator&) {
  if (prefetch_ <= 0) return next_batch(n);
  if (!thread_.joinable()) {
    batch_n_ = n;
    thread_ = std::thread([this] { worker(); });
  }
  TORCH_CHECK(n == batch_n_, "ImageDataset: prefetching serves batches of ", batch_n_, ", asked for ", n);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !queue_.empty(); });
  LabelledBatch b = queue_.front().first;
  handed_out_ = std::move(queue_.front().second);
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  return b;
}

LabelledBatch ImageDataset::labelled_sample(int64_t n, at::Generator& gen) {
  at::Tensor idx = at::randint(data_.images.size(0), {n}, gen, at::kLong);
  at::Tensor x = transform(data_.images.index_select(0, idx), gen);
  return {x, data_.labels.defined() ? data_.labels.index_select(0, idx) : at::Tensor()};
}

ImageSource ImageSource::from(const std::string& type, const Config& cfg) {
  ImageSource o;
  o.type = type;
  o.split = cfg.get_choice("split", "train", {"train", "test"});
  if (type == "fashion_mnist" || type == "mnist") {
    std::string def = type == "fashion_mnist" ? "/usr/share/datasets/fashion-mnist" : "";
    o.path = def.empty() ? cfg.get_string("path") : cfg.get_string("path", def);
    if (!std::filesystem::exists(o.path))
      cfg.fail("path", "'" + o.path + "' does not exist" +
                           (type == "fashion_mnist" ? " (install the Debian package dataset-fashion-mnist)" : ""));
  } else if (type == "cifar10") {
    o.path = cfg.get_string("path");
  } else {
    o.path = cfg.get_string("path");
    o.dataset = cfg.get_string("dataset", o.dataset);
    o.layout = cfg.get_choice("layout", o.layout, {"NCHW", "NHWC", "NHW"});
    o.labels = cfg.get_string("labels", "");
    if (cfg.has("classes") && o.labels.empty()) cfg.fail("classes", "the number of classes of `labels`: set labels too");
    o.classes = cfg.has("classes") ? cfg.get_int("classes", 0, 1, 1 << 20) : 0;
  }
  o.tf.scale = cfg.get_choice("scale", o.tf.scale, {"minus_one_one", "zero_one"});
  o.tf.dequantize = cfg.get_bool("dequantize", o.tf.dequantize);
  o.tf.flip = cfg.get_bool("flip", o.tf.flip);
  o.tf.resize = cfg.get_int("resize", 0, 0, 4096);
  o.tf.crop = cfg.get_int("crop", 0, 0, 4096);
  o.prefetch = cfg.get_int("prefetch", 2, 0, 64);
  o.expect_shape = cfg.get_int_list("shape", {});
  return o;
}

namespace {
std::string idx_file(const std::string& dir, const std::string& stem) {
  std::string gz = dir + "/" + stem + ".gz";
  return std::filesystem::exists(gz) ? gz : dir + "/" + stem;
}
std::vector<std::string> cifar_files(const ImageSource& o) {
  std::vector<std::string> files;
  if (o.split == "train")
    for (int i = 1; i <= 5; ++i) files.push_back(o.path + "/data_batch_" + std::to_string(i) + ".bin");
  else
    files.push_back(o.path + "/test_batch.bin");
  return files;
}
std::string idx_prefix(const ImageSource& o) { return o.split == "train" ? "train" : "t10k"; }

// [C, H, W] after resize and crop; fails on a crop larger than the image.
std::vector<int64_t> transformed(const std::vector<int64_t>& raw, const ImageTransform& tf, const Config& cfg) {
  std::vector<int64_t> s = raw;
  if (tf.resize > 0) s[1] = s[2] = tf.resize;
  int64_t side = std::min(s[1], s[2]);
  if (tf.crop > side) cfg.fail("crop", "crop " + std::to_string(tf.crop) + " exceeds the image size " + std::to_string(side));
  if (tf.crop > 0) s[1] = s[2] = tf.crop;
  std::vector<int64_t> expect = cfg.get_int_list("shape", {});
  if (!expect.empty() && expect != s) {
    std::string got;
    for (auto d : s) got += (got.empty() ? "" : ", ") + std::to_string(d);
    cfg.fail("shape", "the data has examples of shape [" + got + "] after transforms");
  }
  return s;
}
}  // namespace

ImageArray ImageSource::read() const {
  if (type == "fashion_mnist" || type == "mnist")
    return read_idx_pair(idx_file(path, idx_prefix(*this) + "-images-idx3-ubyte"),
                         idx_file(path, idx_prefix(*this) + "-labels-idx1-ubyte"));
  if (type == "cifar10") return read_cifar10(cifar_files(*this));
  return read_hdf5_images(path, dataset, layout, labels);
}

std::vector<int64_t> ImageSource::raw_shape() const {
  if (type == "fashion_mnist" || type == "mnist") {
    auto d = peek_idx_dims(idx_file(path, idx_prefix(*this) + "-images-idx3-ubyte"), 3);
    return {1, d[1], d[2]};
  }
  if (type == "cifar10") {
    for (const auto& f : cifar_files(*this))
      if (!std::filesystem::exists(f)) throw DataError(f + ": no such file");
    return {3, 32, 32};
  }
  auto d = peek_hdf5_dims(path, dataset);
  size_t want = layout == "NHW" ? 3 : 4;
  if (d.size() != want)
    throw DataError(path + ": dataset '" + dataset + "' has " + std::to_string(d.size()) + " dimensions; layout " +
                    layout + " needs " + std::to_string(want));
  if (layout == "NHW") return {1, d[1], d[2]};
  if (layout == "NHWC") return {d[3], d[1], d[2]};
  return {d[1], d[2], d[3]};
}

std::shared_ptr<Dataset> image_dataset_from(const std::string& type, const Config& cfg, uint64_t seed) {
  ImageSource o = ImageSource::from(type, cfg);
  ImageArray a;
  try {
    a = o.read();
  } catch (const DataError& e) {
    cfg.fail("path", e.what());
  }
  transformed(a.images.sizes().slice(1).vec(), o.tf, cfg);  // crop and shape checks
  const int64_t classes = type == "hdf5" ? o.classes : 10;
  if (classes > 0 && a.labels.defined() && a.labels.numel() > 0 && a.labels.max().item<int64_t>() >= classes)
    cfg.fail("classes", "the labels in '" + o.path + "' go up to " + std::to_string(a.labels.max().item<int64_t>()) +
                            ", more than " + std::to_string(classes) + " classes");
  auto ds = std::make_shared<ImageDataset>(type, std::move(a), o.tf, seed, o.prefetch);
  if (ds->data().labels.defined()) ds->set_num_classes(classes);
  return ds;
}

std::shared_ptr<DataInfo> image_info_from(const std::string& type, const Config& cfg) {
  ImageSource o = ImageSource::from(type, cfg);
  auto info = std::make_shared<DataInfo>();
  try {
    info->shape = transformed(o.raw_shape(), o.tf, cfg);
  } catch (const DataError& e) {
    cfg.fail("path", e.what());
  }
  info->labelled = type != "hdf5" || !o.labels.empty();
  info->classes = type == "hdf5" ? o.classes : 10;
  return info;
}

}  // namespace scorelab
