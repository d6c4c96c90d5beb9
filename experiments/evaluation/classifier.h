// The feature classifier behind scorelab's image Fréchet distance ("FD", the documented stand-in
// for FID where Inception weights cannot be downloaded). `scorelab train-classifier exp.yaml`
// trains a small CNN (networks/classifier.h) on the labels of the experiment's image data set
// (training split, clean transforms: no dequantization, no flips), reports its accuracy on the
// test split and caches it as <classifier.cache_dir>/<data>-<key>.pt, the key a hash of the
// data's bytes, shape and transforms and of the classifier options: every run, sweep point and
// compare on the same data shares one classifier, so their FDs are comparable. Training happens
// under a file lock, so parallel sweep points wait for one training instead of racing.
#pragma once
#include <string>

#include "experiments/experiment.h"
#include "networks/classifier.h"

namespace scorelab {

class ImageDataset;

struct Classifier {
  FeatureClassifier net{nullptr};
  std::string path;          // the cache file
  double test_accuracy = 0;  // on the test split (the training split when there is none)
  int64_t test_n = 0;
  bool cached = false;       // loaded rather than trained now
  // Penultimate-layer features [B, features] of images on the data's scale, in batches, no grad.
  // With a progress label, a bar per batch of 500 images (evaluations; not the baselines).
  at::Tensor features(const at::Tensor& images, const std::string& progress_label = "") const;
  // The predicted class of each image (int64 [B], CPU), in batches, no grad.
  at::Tensor classify(const at::Tensor& images) const;
};

// The clean (no dequantization, no flips, no prefetching) view of the experiment's image data:
// `split` is train or test; data without a test split (HDF5) returns its one split.
std::shared_ptr<ImageDataset> clean_image_view(const RunSpec& spec, const RunData& data, const std::string& split);
inline std::shared_ptr<ImageDataset> clean_image_view(const Experiment& ex, const std::string& split) {
  return clean_image_view(ex, ex, split);
}
bool has_test_split(const RunSpec& spec);

// Loads the cached classifier for the experiment's data, or trains, tests and caches it.
// Throws ConfigError when the data are not labelled images.
Classifier classifier_for(const RunSpec& spec, const RunData& data);
inline Classifier classifier_for(const Experiment& ex) { return classifier_for(ex, ex); }

int command_train_classifier(const std::string& config_path, const std::vector<std::string>& overrides);

}  // namespace scorelab
