// An image data set in memory (uint8 [N, C, H, W]) served as float batches: scaled to [-1, 1]
// or [0, 1], optionally uniformly dequantized ((u + U(0,1)) / 256), randomly flipped left-right,
// resized (bilinear) and centre-cropped. Training batches come from a shuffling loader —
// a fresh permutation per epoch from the data set's own seeded generator — prepared by a
// background thread `prefetch` batches ahead, so training never waits for data; the stream
// is the same with or without prefetching. Evaluation draws (sample) use the caller's
// generator and leave the training stream alone.
#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <ATen/core/Generator.h>

#include "experiments/data/dataset.h"
#include "experiments/data/image_io.h"

namespace scorelab {

class Config;

struct ImageTransform {
  std::string scale = "minus_one_one";  // minus_one_one | zero_one
  bool dequantize = false, flip = false;
  int64_t resize = 0, crop = 0;  // 0: keep
};

class ImageDataset : public Dataset {
 public:
  ImageDataset(std::string name, ImageArray data, ImageTransform tf, uint64_t seed, int64_t prefetch);
  ~ImageDataset() override;
  std::string name() const override { return name_; }
  std::vector<int64_t> sample_shape() const override { return shape_; }
  at::Tensor batch(int64_t n, at::Generator& gen) override { return labelled_batch(n, gen).x; }
  at::Tensor sample(int64_t n, at::Generator& gen) override { return labelled_sample(n, gen).x; }
  LabelledBatch labelled_batch(int64_t n, at::Generator& gen) override;
  LabelledBatch labelled_sample(int64_t n, at::Generator& gen) override;
  int64_t num_classes() const override { return classes_; }
  void set_num_classes(int64_t c) { classes_ = c; }
  std::vector<at::Tensor> stream_state() const override;
  void set_stream_state(const std::vector<at::Tensor>& state) override;
  const ImageArray& data() const { return data_; }
  const ImageTransform& transform_options() const { return tf_; }
  // Applies the transforms to uint8 (or [0,1] float) images [B, C, H, W].
  at::Tensor transform(const at::Tensor& raw, at::Generator& gen) const;

 private:
  LabelledBatch next_batch(int64_t n);  // loader state; called by one thread at a time
  void worker();
  std::vector<at::Tensor> position() const;  // gen_, perm_, cursor_ (by the thread that draws)

  std::string name_;
  ImageArray data_;
  ImageTransform tf_;
  std::vector<int64_t> shape_;
  int64_t classes_ = 0;
  at::Generator gen_;
  at::Tensor perm_;
  int64_t cursor_ = 0;
  // prefetching
  int64_t prefetch_, batch_n_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<LabelledBatch, std::vector<at::Tensor>>> queue_;  // batch, position after it
  std::vector<at::Tensor> handed_out_;  // position after the last batch handed out
  bool stop_ = false;
};

// The `data:` section of an image data set, parsed (no file read).
struct ImageSource {
  std::string type, split = "train";
  std::string path;                                     // directory (IDX, CIFAR-10) or HDF5 file
  std::string dataset = "images", layout = "NCHW", labels;  // HDF5
  int64_t classes = 0;  // HDF5 with labels: the number of classes (`classes`; 0: not given)
  ImageTransform tf;
  int64_t prefetch = 2;
  std::vector<int64_t> expect_shape;  // `shape`, checked against the data after transforms
  static ImageSource from(const std::string& type, const Config& cfg);
  ImageArray read() const;              // the whole split (throws DataError)
  std::vector<int64_t> raw_shape() const;  // [C, H, W] from the files' headers only
};

// Builds the image data sets of the registry from their config sections, and describes them
// (shape after transforms, labels) from the headers alone.
std::shared_ptr<Dataset> image_dataset_from(const std::string& type, const Config& cfg, uint64_t seed);
std::shared_ptr<DataInfo> image_info_from(const std::string& type, const Config& cfg);

}  // namespace scorelab
