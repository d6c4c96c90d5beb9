#include "networks/classifier.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>

namespace scorelab {
namespace nn = torch::nn;

namespace {
void conv_block(nn::Sequential& s, int64_t in, int64_t out) {
  s->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1)));
  s->push_back(nn::GroupNorm(nn::GroupNormOptions(8, out)));
  s->push_back(nn::SiLU());
}
}  // namespace

FeatureClassifierImpl::FeatureClassifierImpl(ClassifierNetOptions o) : o_(o) {
  const int64_t c = o.channels;
  nn::Sequential s;
  conv_block(s, o.in_channels, c);
  s->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
  conv_block(s, c, 2 * c);
  s->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
  conv_block(s, 2 * c, 4 * c);
  s->push_back(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({4, 4})));
  s->push_back(nn::Flatten());
  s->push_back(nn::Linear(4 * c * 16, o.features));
  s->push_back(nn::SiLU());
  body_ = register_module("body", s);
  head_ = register_module("head", nn::Linear(o.features, o.classes));
}

at::Tensor FeatureClassifierImpl::features(const at::Tensor& x) { return body_->forward(x); }

at::Tensor FeatureClassifierImpl::forward(const at::Tensor& x) { return head_->forward(features(x)); }

}  // namespace scorelab
