// A small convolutional image classifier whose penultimate layer serves as the feature space of
// scorelab's Fréchet distance (the stand-in for FID where Inception weights cannot be fetched):
//   conv3x3(ch) -> GroupNorm -> SiLU -> maxpool2 -> conv3x3(2ch) -> GroupNorm -> SiLU -> maxpool2
//   -> conv3x3(4ch) -> GroupNorm -> SiLU -> adaptive avg pool 4x4 -> Linear(64ch, features) -> SiLU
//                                                                   = features(x)
//   -> Linear(features, classes)                                    = forward(x)
// About 2M multiply-adds per 28x28 image at ch 16: cheap enough to train in a minute on 2 cores.
// Any C x H x W input with H, W >= 4 works (Fashion-MNIST 28x28, CIFAR-10 32x32, resized data).
#pragma once
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

namespace scorelab {

struct ClassifierNetOptions {
  int64_t in_channels = 1, classes = 10;
  int64_t channels = 16;   // width of the first block (then 2x, 4x); a multiple of 8
  int64_t features = 128;  // feature dimension
};

class FeatureClassifierImpl : public torch::nn::Module {
 public:
  explicit FeatureClassifierImpl(ClassifierNetOptions o);
  at::Tensor features(const at::Tensor& x);  // [B, features]
  at::Tensor forward(const at::Tensor& x);   // logits [B, classes]
  const ClassifierNetOptions& options() const { return o_; }

 private:
  ClassifierNetOptions o_;
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(FeatureClassifier);

}  // namespace scorelab
