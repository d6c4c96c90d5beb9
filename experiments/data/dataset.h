// Data sets: a data set hands out training batches drawn with an explicit generator.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace scorelab {

// What a run needs to know about its data before reading it (experiments/run_spec.h): the
// shape of one example after transforms, from the config and at most a file header.
struct DataInfo {
  std::vector<int64_t> shape;  // e.g. {2} or {1, 28, 28}
  bool labelled = false;       // labels exist (class-labelled images)
  bool mixture = false;        // a Gaussian mixture with an exact density
  int64_t classes = 0;         // number of classes of the labels (0: unknown or none); a
                               // mixture's components are its classes
  bool image() const { return shape.size() == 3; }
  int64_t dim() const {
    int64_t d = 1;
    for (auto s : shape) d *= s;
    return d;
  }
};

// A batch with its class labels (int64 [n]; undefined for unlabelled data).
struct LabelledBatch {
  at::Tensor x, y;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::string name() const = 0;
  virtual std::vector<int64_t> sample_shape() const = 0;  // shape of one example, e.g. {2}
  // The next training batch of n examples [n, ...] (float32 on CPU).
  virtual at::Tensor batch(int64_t n, at::Generator& gen) = 0;
  // n examples drawn for evaluation with `gen`, independent of the training stream.
  virtual at::Tensor sample(int64_t n, at::Generator& gen) { return batch(n, gen); }
  // The same draws with their labels: batch() and sample() are these without y.
  virtual LabelledBatch labelled_batch(int64_t n, at::Generator& gen) { return {batch(n, gen), {}}; }
  virtual LabelledBatch labelled_sample(int64_t n, at::Generator& gen) { return {sample(n, gen), {}}; }
  virtual int64_t num_classes() const { return 0; }
  // The training stream's position beyond `gen` (an image loader's own generator, permutation
  // and cursor after the last batch handed out), kept in checkpoints so a resumed run draws the
  // batches an uninterrupted one would. Empty for data sets drawn from `gen` alone.
  virtual std::vector<at::Tensor> stream_state() const { return {}; }
  virtual void set_stream_state(const std::vector<at::Tensor>& /*state*/) {}
  // Images (C, H, W) are plotted as grids, 2-D points as scatter plots.
  bool is_image() const { return sample_shape().size() == 3; }
};

}  // namespace scorelab
