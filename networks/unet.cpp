#include "networks/unet.h"

#include <cmath>

#include <ATen/ATen.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/upsampling.h>

#include "core/config.h"
#include "networks/embedding.h"

namespace scorelab {
namespace {
at::Tensor swish(const at::Tensor& x) { return at::silu(x); }  // x sigmoid(x), one fused kernel each way
torch::nn::Conv2d conv3(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}
torch::nn::Conv2d conv1(int64_t in, int64_t out) { return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)); }
torch::nn::GroupNorm group_norm(int64_t groups, int64_t ch) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(std::min(groups, ch), ch).eps(1e-6));
}
}  // namespace

UNetOptions UNetOptions::from(const Config& cfg, const std::vector<int64_t>& image_shape) {
  UNetOptions o;
  if (image_shape.size() != 3) cfg.fail("type", "the U-Net needs image data [C, H, W]");
  o.in_channels = image_shape[0];
  o.resolution = image_shape[1];
  o.ch = cfg.get_int("ch", o.ch, 1, 4096);
  o.ch_mult = cfg.get_int_list("ch_mult", o.ch_mult);
  o.num_res_blocks = cfg.get_int("num_res_blocks", o.num_res_blocks, 1, 64);
  o.attn_resolutions = cfg.get_int_list("attn_resolutions", o.attn_resolutions);
  o.dropout = cfg.get_double("dropout", o.dropout, 0.0, 1.0);
  o.groups = cfg.get_int("groups", o.groups, 1, 4096);
  if (o.ch_mult.empty()) cfg.fail("ch_mult", "needs at least one level");
  for (auto m : o.ch_mult)
    if (m < 1 || m > 64) cfg.fail("ch_mult", "each level's multiplier must be in [1, 64], got " + std::to_string(m));
  for (auto r : o.attn_resolutions)
    if (r < 1) cfg.fail("attn_resolutions", "resolutions must be positive, got " + std::to_string(r));
  int64_t res = o.resolution;
  for (size_t i = 0; i + 1 < o.ch_mult.size(); ++i) {
    if (res % 2) cfg.fail("ch_mult", std::to_string(o.ch_mult.size()) + " levels halve the resolution " +
                                         std::to_string(o.resolution) + " to an odd size");
    res /= 2;
  }
  for (auto m : o.ch_mult)
    if ((o.ch * m) % std::min(o.groups, o.ch * m)) cfg.fail("groups", "must divide every level's channel count");
  return o;
}

ResBlockImpl::ResBlockImpl(int64_t in, int64_t out, int64_t temb, double dropout, int64_t groups) {
  norm1_ = register_module("norm1", group_norm(groups, in));
  conv1_ = register_module("conv1", conv3(in, out));
  temb_proj_ = register_module("temb_proj", torch::nn::Linear(temb, out));
  norm2_ = register_module("norm2", group_norm(groups, out));
  drop_ = register_module("dropout", torch::nn::Dropout(dropout));
  conv2_ = register_module("conv2", conv3(out, out));
  if (in != out) skip_ = register_module("nin_shortcut", conv1(in, out));
}

at::Tensor ResBlockImpl::forward(const at::Tensor& x, const at::Tensor& temb) {
  at::Tensor h = conv1_->forward(swish(norm1_->forward(x)));
  h = h + temb_proj_->forward(swish(temb)).unsqueeze(-1).unsqueeze(-1);
  h = conv2_->forward(drop_->forward(swish(norm2_->forward(h))));
  return (skip_ ? skip_->forward(x) : x) + h;
}

AttnBlockImpl::AttnBlockImpl(int64_t ch, int64_t groups) {
  norm_ = register_module("norm", group_norm(groups, ch));
  q_ = register_module("q", conv1(ch, ch));
  k_ = register_module("k", conv1(ch, ch));
  v_ = register_module("v", conv1(ch, ch));
  proj_ = register_module("proj_out", conv1(ch, ch));
}

at::Tensor AttnBlockImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  at::Tensor h = norm_->forward(x);
  at::Tensor q = q_->forward(h).reshape({B, C, H * W}).transpose(1, 2);  // [B, HW, C]
  at::Tensor k = k_->forward(h).reshape({B, C, H * W});                  // [B, C, HW]
  at::Tensor v = v_->forward(h).reshape({B, C, H * W}).transpose(1, 2);  // [B, HW, C]
  at::Tensor w = at::softmax(at::bmm(q, k) / std::sqrt(static_cast<double>(C)), -1);
  at::Tensor out = at::bmm(w, v).transpose(1, 2).reshape({B, C, H, W});
  return x + proj_->forward(out);
}

UNetImpl::UNetImpl(UNetOptions o) : o_(std::move(o)) {
  const int64_t temb = 4 * o_.ch;
  temb0_ = register_module("temb_dense0", torch::nn::Linear(o_.ch, temb));
  temb1_ = register_module("temb_dense1", torch::nn::Linear(temb, temb));
  conv_in_ = register_module("conv_in", conv3(o_.in_channels, o_.ch));
  std::vector<int64_t> skip_ch{o_.ch};
  int64_t cur = o_.ch, res = o_.resolution;
  auto has_attn = [&](int64_t r) {
    for (auto a : o_.attn_resolutions)
      if (a == r) return true;
    return false;
  };
  const size_t levels = o_.ch_mult.size();
  for (size_t i = 0; i < levels; ++i) {
    int64_t out = o_.ch * o_.ch_mult[i];
    for (int64_t b = 0; b < o_.num_res_blocks; ++b) {
      down_->push_back(ResBlock(cur, out, temb, o_.dropout, o_.groups));
      down_kind_.push_back('r');
      cur = out;
      if (has_attn(res)) {
        down_->push_back(AttnBlock(cur, o_.groups));
        down_kind_.push_back('a');
      }
      skip_ch.push_back(cur);
    }
    if (i + 1 < levels) {
      down_->push_back(conv3(cur, cur, 2));
      down_kind_.push_back('d');
      skip_ch.push_back(cur);
      res /= 2;
    }
  }
  register_module("down", down_);
  mid1_ = register_module("mid_block1", ResBlock(cur, cur, temb, o_.dropout, o_.groups));
  mid_attn_ = register_module("mid_attn", AttnBlock(cur, o_.groups));
  mid2_ = register_module("mid_block2", ResBlock(cur, cur, temb, o_.dropout, o_.groups));
  for (size_t ii = levels; ii-- > 0;) {
    int64_t out = o_.ch * o_.ch_mult[ii];
    for (int64_t b = 0; b < o_.num_res_blocks + 1; ++b) {
      int64_t skip = skip_ch.back();
      skip_ch.pop_back();
      up_->push_back(ResBlock(cur + skip, out, temb, o_.dropout, o_.groups));
      up_kind_.push_back('r');
      cur = out;
      if (has_attn(res)) {
        up_->push_back(AttnBlock(cur, o_.groups));
        up_kind_.push_back('a');
      }
    }
    if (ii > 0) {
      up_->push_back(conv3(cur, cur));
      up_kind_.push_back('u');
      res *= 2;
    }
  }
  register_module("up", up_);
  norm_out_ = register_module("norm_out", group_norm(o_.groups, cur));
  conv_out_ = register_module("conv_out", conv3(cur, o_.out_channels > 0 ? o_.out_channels : o_.in_channels));
  if (o_.classes > 0)  // registered last: an unconditional network initialises as before
    class_embed_ = register_module("class_embed", torch::nn::Embedding(o_.classes + 1, temb));
}

at::Tensor UNetImpl::forward(const at::Tensor& x, const at::Tensor& c) {
  if (o_.classes == 0) return run(x, c, {});
  return run(x, c, at::full({x.size(0)}, o_.classes, x.options().dtype(at::kLong)));  // the null class
}

at::Tensor UNetImpl::forward_labelled(const at::Tensor& x, const at::Tensor& c, const at::Tensor& y) {
  TORCH_CHECK(o_.classes > 0, "this U-Net has no class embedding (model.class_conditional: true adds one)");
  TORCH_CHECK(y.dim() == 1 && y.size(0) == x.size(0), "labels: one per example, got ", y.sizes(), " for ", x.sizes());
  return run(x, c, y);
}

at::Tensor UNetImpl::run(const at::Tensor& x, const at::Tensor& c, const at::Tensor& y) {
  at::Tensor temb = sinusoidal_(c.to(x.dtype()));
  temb = temb1_->forward(swish(temb0_->forward(temb)));
  if (y.defined()) temb = temb + class_embed_->forward(y);
  std::vector<at::Tensor> hs{conv_in_->forward(x)};
  at::Tensor h = hs.back();
  for (size_t i = 0; i < down_kind_.size(); ++i) {
    char kind = down_kind_[i];
    if (kind == 'r') {
      h = down_[i]->as<ResBlockImpl>()->forward(h, temb);
      if (i + 1 >= down_kind_.size() || down_kind_[i + 1] != 'a') hs.push_back(h);
    } else if (kind == 'a') {
      h = down_[i]->as<AttnBlockImpl>()->forward(h);
      hs.push_back(h);
    } else {
      h = down_[i]->as<torch::nn::Conv2dImpl>()->forward(h);
      hs.push_back(h);
    }
  }
  h = mid2_->forward(mid_attn_->forward(mid1_->forward(h, temb)), temb);
  for (size_t i = 0; i < up_kind_.size(); ++i) {
    char kind = up_kind_[i];
    if (kind == 'r') {
      h = up_[i]->as<ResBlockImpl>()->forward(at::cat({h, hs.back()}, 1), temb);
      hs.pop_back();
    } else if (kind == 'a') {
      h = up_[i]->as<AttnBlockImpl>()->forward(h);
    } else {
      h = at::upsample_nearest2d(h, {h.size(2) * 2, h.size(3) * 2});
      h = up_[i]->as<torch::nn::Conv2dImpl>()->forward(h);
    }
  }
  return conv_out_->forward(swish(norm_out_->forward(h)));
}

}  // namespace scorelab
