// The DDPM U-Net (Ho et al. 2020, appendix B; the PixelCNN++ / Wide-ResNet backbone):
// conv_in -> per resolution level num_res_blocks residual blocks (GroupNorm(32), swish, 3x3
// conv, time-embedding injection, dropout) with self-attention at chosen resolutions, and a
// strided-conv downsample; a middle of ResBlock-Attention-ResBlock; the mirrored upward path
// with num_res_blocks + 1 blocks per level fed by skip connections and nearest-neighbour
// upsampling + conv; GroupNorm, swish, conv_out. The time embedding is the sinusoidal
// embedding of the conditioning value (dim ch) through Dense(ch, 4ch), swish, Dense(4ch, 4ch).
// Class-conditional (classes > 0): a learned embedding of the label (the last row the null
// class) is added to the time embedding, as in improved-diffusion's label_emb.
// The CIFAR-10 configuration (ch 128, ch_mult 1,2,2,2, 2 blocks, attention at 16, dropout
// 0.1) has the paper's 35.7M parameters (a test checks the count).
#pragma once
#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "networks/embedding.h"
#include "networks/score_model.h"

namespace scorelab {

class Config;

struct UNetOptions {
  int64_t in_channels = 3, out_channels = 0;  // 0: in_channels (out 1 for an energy)
  int64_t resolution = 32;
  int64_t ch = 128;
  std::vector<int64_t> ch_mult{1, 2, 2, 2};
  int64_t num_res_blocks = 2;
  std::vector<int64_t> attn_resolutions{16};
  double dropout = 0.1;
  int64_t groups = 32;  // GroupNorm groups
  int64_t classes = 0;  // > 0: a learned class embedding [classes + 1, 4 ch] added to the time embedding
  static UNetOptions from(const Config& cfg, const std::vector<int64_t>& image_shape);
};

class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t out, int64_t temb, double dropout, int64_t groups);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb);

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, skip_{nullptr};
  torch::nn::Linear temb_proj_{nullptr};
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(ResBlock);

class AttnBlockImpl : public torch::nn::Module {
 public:
  AttnBlockImpl(int64_t ch, int64_t groups);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::GroupNorm norm_{nullptr};
  torch::nn::Conv2d q_{nullptr}, k_{nullptr}, v_{nullptr}, proj_{nullptr};
};
TORCH_MODULE(AttnBlock);

class UNetImpl : public ScoreNetImpl {
 public:
  explicit UNetImpl(UNetOptions o);
  // x [B, C, H, W], c [B] the conditioning value (e.g. 1000 t, log sigma / 4, step index).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& c) override;
  at::Tensor forward_labelled(const at::Tensor& x, const at::Tensor& c, const at::Tensor& y) override;
  int64_t num_classes() const override { return o_.classes; }
  const UNetOptions& options() const { return o_; }

 private:
  at::Tensor run(const at::Tensor& x, const at::Tensor& c, const at::Tensor& y);
  torch::nn::Embedding class_embed_{nullptr};
  UNetOptions o_;
  SinusoidalEmbedding sinusoidal_{o_.ch};
  torch::nn::Linear temb0_{nullptr}, temb1_{nullptr};
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::GroupNorm norm_out_{nullptr};
  torch::nn::ModuleList down_, up_;  // ResBlock / AttnBlock / Conv2d in forward order
  std::vector<char> down_kind_, up_kind_;  // 'r' res block, 'a' attention, 'd' down, 'u' up
  ResBlock mid1_{nullptr}, mid2_{nullptr};
  AttnBlock mid_attn_{nullptr};
};

}  // namespace scorelab
