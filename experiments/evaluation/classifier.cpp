#include "experiments/evaluation/classifier.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "core/config.h"
#include "core/device.h"
#include "core/fsutil.h"
#include "core/progress.h"
#include "experiments/data/image_dataset.h"
#include "experiments/evaluation/metrics.h"
#include "networks/embedding.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

uint64_t hash_tensor(const at::Tensor& t, uint64_t h) {
  at::Tensor c = t.contiguous().to(at::kCPU);
  return fnv1a(c.data_ptr(), c.numel() * c.element_size(), h);
}

// Holds an exclusive flock on `path` for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

at::Tensor clean_batch(const ImageDataset& d, const at::Tensor& idx, at::Generator& gen) {
  return d.transform(d.data().images.index_select(0, idx), gen).to(at::kFloat);
}

double accuracy(FeatureClassifier& net, const ImageDataset& d, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  net->eval();
  const ImageArray& a = d.data();
  int64_t n = a.images.size(0), correct = 0;
  for (int64_t first = 0; first < n; first += 1000) {
    at::Tensor idx = at::arange(first, std::min(n, first + 1000), at::kLong);
    at::Tensor pred = net->forward(clean_batch(d, idx, gen)).argmax(1);
    correct += pred.eq(a.labels.index_select(0, idx)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace

at::Tensor Classifier::features(const at::Tensor& images, const std::string& progress_label) const {
  torch::NoGradGuard no_grad;
  FeatureClassifier m = net;  // a handle to the same module
  m->eval();
  at::Tensor x = images.detach().to(at::kCPU, at::kFloat);
  std::vector<at::Tensor> parts;
  std::unique_ptr<Progress> bar;
  if (!progress_label.empty()) bar = std::make_unique<Progress>(progress_label, x.size(0), 0, "images");
  for (int64_t first = 0; first < x.size(0); first += 500) {
    parts.push_back(m->features(x.slice(0, first, std::min(x.size(0), first + 500))));
    if (bar) bar->update(std::min(x.size(0), first + 500));
  }
  if (bar) bar->finish();
  return at::cat(parts, 0);
}

at::Tensor Classifier::classify(const at::Tensor& images) const {
  torch::NoGradGuard no_grad;
  FeatureClassifier m = net;
  m->eval();
  at::Tensor x = images.detach().to(at::kCPU, at::kFloat);
  std::vector<at::Tensor> parts;
  for (int64_t first = 0; first < x.size(0); first += 500)
    parts.push_back(m->forward(x.slice(0, first, std::min(x.size(0), first + 500))).argmax(1));
  return at::cat(parts, 0);
}

bool has_test_split(const RunSpec& ex) {
  std::string type = ex.cfg.at("data").get_string("type", "");
  return type == "fashion_mnist" || type == "mnist" || type == "cifar10";
}

std::shared_ptr<ImageDataset> clean_image_view(const RunSpec& spec, const RunData& data, const std::string& split) {
  std::vector<std::string> ov{"dequantize=false", "flip=false", "prefetch=0"};
  if (has_test_split(spec)) ov.push_back("split=" + split);
  auto d = std::dynamic_pointer_cast<ImageDataset>(data.make_data(ov));
  if (!d) spec.cfg.at("data").fail("type", "'" + data.data->name() + "' is not an image data set");
  return d;
}

Classifier classifier_for(const RunSpec& ex, const RunData& data) {
  const ClassifierOptions& o = ex.classifier;
  auto train = clean_image_view(ex, data, "train");
  const ImageArray& a = train->data();
  if (!a.labels.defined())
    ex.cfg.at("data").fail("type", "the data set has no labels, so scorelab cannot train the classifier behind "
                                   "the Fréchet distance (HDF5: set data.labels; or set eval.fd=false)");
  const ImageTransform& tf = train->transform_options();
  std::vector<int64_t> shape = train->sample_shape();
  char spec[256];
  std::snprintf(spec, sizeof spec, "v1 %ldx%ldx%ld scale=%s resize=%ld crop=%ld ch=%ld feat=%ld steps=%ld bs=%ld lr=%g seed=%lu",
                static_cast<long>(shape[0]), static_cast<long>(shape[1]), static_cast<long>(shape[2]), tf.scale.c_str(),
                static_cast<long>(tf.resize), static_cast<long>(tf.crop), static_cast<long>(o.channels),
                static_cast<long>(o.features), static_cast<long>(o.steps), static_cast<long>(o.batch_size), o.lr,
                static_cast<unsigned long>(o.seed));
  uint64_t key = hash_tensor(a.labels, hash_tensor(a.images, fnv1a(spec, std::strlen(spec))));
  char file[64];
  std::snprintf(file, sizeof file, "-%016llx.pt", static_cast<unsigned long long>(key));
  Classifier c;
  c.path = o.cache_dir + "/" + train->name() + file;
  ClassifierNetOptions net_o;
  net_o.in_channels = shape[0];
  net_o.classes = a.labels.max().item<int64_t>() + 1;
  net_o.channels = o.channels;
  net_o.features = o.features;
  c.net = FeatureClassifier(net_o);

  fs::create_directories(o.cache_dir);
  FileLock lock(c.path + ".lock");
  if (fs::exists(c.path)) {
    torch::serialize::InputArchive in;
    in.load_from(c.path);
    c.net->load(in);
    at::Tensor acc, n;
    in.read("test_accuracy", acc);
    in.read("test_n", n);
    c.test_accuracy = acc.item<double>();
    c.test_n = n.item<int64_t>();
    c.cached = true;
    return c;
  }

  // Train on the training split with the clean transforms.
  at::Generator gen = make_generator(o.seed ^ 0x5eedc1a55ULL);
  init_parameters(*c.net, gen);
  torch::optim::Adam opt(c.net->parameters(), torch::optim::AdamOptions(o.lr));
  c.net->train();
  Progress bar("classifier " + train->name(), o.steps);
  const int64_t n = a.images.size(0);
  for (int64_t step = 1; step <= o.steps; ++step) {
    at::Tensor idx = at::randint(n, {o.batch_size}, gen, at::kLong);
    at::Tensor loss = torch::nn::functional::cross_entropy(c.net->forward(clean_batch(*train, idx, gen)),
                                                           a.labels.index_select(0, idx));
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step % 50 == 0 || step == o.steps) {
      char status[32];
      std::snprintf(status, sizeof status, "loss %.3f", loss.item<double>());
      bar.update(step, status);
    }
  }
  bar.finish();
  auto test = clean_image_view(ex, data, "test");
  c.test_accuracy = accuracy(c.net, *test, gen);
  c.test_n = test->data().images.size(0);
  atomic_publish(c.path, [&](const std::string& tmp) {
    torch::serialize::OutputArchive out;
    c.net->save(out);
    out.write("test_accuracy", at::full({}, c.test_accuracy, at::kDouble));
    out.write("test_n", at::full({}, c.test_n, at::kLong));
    out.write("spec", at::tensor(std::vector<int64_t>(spec, spec + std::strlen(spec))));
    out.save_to(tmp);
  });
  return c;
}

int command_train_classifier(const std::string& config_path, const std::vector<std::string>& overrides) {
  Config cfg = Config::load_file(config_path, overrides);
  Experiment ex = build_experiment(cfg, fs::path(config_path).stem().string());
  if (!ex.data->is_image()) cfg.at("data").fail("type", "train-classifier needs an image data set");
  if (ex.run.threads > 0) at::set_num_threads(static_cast<int>(ex.run.threads));
  Classifier c = classifier_for(ex);
  // The floor of the Fréchet distance: eval.n training images against eval.n test images.
  auto train = clean_image_view(ex, "train");
  auto test = clean_image_view(ex, "test");
  at::Generator gen = make_generator(ex.run.seed + 7919);
  at::Tensor xa = train->sample(ex.eval.n, gen), xb = test->sample(ex.eval.n, gen);
  double floor = frechet_distance(gaussian_stats(c.features(xa)), gaussian_stats(c.features(xb)));
  std::printf("classifier %s (%s)\n  test accuracy %.4f on %ld %s images\n  FD floor, %ld train vs %ld %s images: %.4f\n",
              c.path.c_str(), c.cached ? "cached" : "trained now", c.test_accuracy, static_cast<long>(c.test_n),
              has_test_split(ex) ? "test" : "training", static_cast<long>(ex.eval.n), static_cast<long>(ex.eval.n),
              has_test_split(ex) ? "test" : "other training", floor);
  return 0;
}

}  // namespace scorelab
