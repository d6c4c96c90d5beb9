#include "networks/fused_adam.h"

#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/optim/adam.h>
#include <torch/serialize/archive.h>

#include "networks/adam_kernel.h"

namespace scorelab {
namespace {

// Work is cut into spans of this many elements: the sum of squares adds per-span partial sums in
// span order, so the norm (and the run) does not depend on the thread count.
constexpr int64_t kSpan = 16384;

// Calls fn(i, lo, hi) for the part [lo, hi) of parameter i that lies in [begin, end).
template <typename Fn>
void for_each_part(const std::vector<int64_t>& offset, int64_t begin, int64_t end, Fn fn) {
  for (size_t i = 0; i + 1 < offset.size(); ++i) {
    int64_t lo = std::max(begin, offset[i]), hi = std::min(end, offset[i + 1]);
    if (lo < hi) fn(i, lo - offset[i], hi - offset[i]);
  }
}

template <typename T>
T* ptr(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

}  // namespace

FusedAdam::FusedAdam(std::vector<at::Tensor> params, AdamOptions opts, EMA* ema)
    : params_(std::move(params)), opts_(opts), ema_(ema) {
  if (params_.empty()) throw std::invalid_argument("FusedAdam: no parameters");
  offset_.push_back(0);
  for (const auto& p : params_) {
    if (p.scalar_type() != params_[0].scalar_type() || p.device() != params_[0].device())
      throw std::invalid_argument("FusedAdam: parameters of one dtype and device expected");
    offset_.push_back(offset_.back() + p.numel());
  }
  flat_ = at::empty({offset_.back()}, params_[0].options().requires_grad(false));
  m_ = at::zeros_like(flat_);
  v_ = at::zeros_like(flat_);
  rebind();
  if (ema_) ema_->init(params_);
}

void FusedAdam::rebind() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor view = flat_.narrow(0, offset_[i], offset_[i + 1] - offset_[i]).view(params_[i].sizes());
    if (params_[i].is_alias_of(flat_) && params_[i].data_ptr() == view.data_ptr()) continue;
    view.copy_(params_[i]);
    params_[i].set_data(view);
  }
}

bool FusedAdam::finite() const {
  return at::isfinite(flat_).all().item<bool>() && (!ema_ || at::isfinite(ema_->flat()).all().item<bool>());
}

void FusedAdam::zero_grad() {
  for (auto& p : params_) p.mutable_grad() = at::Tensor();
}

at::Tensor FusedAdam::step() {
  torch::NoGradGuard no_grad;
  const bool loop = opts_.cpu_loop && flat_.device().is_cpu() &&
                    (flat_.scalar_type() == at::kFloat || flat_.scalar_type() == at::kDouble);
  at::Tensor norm = loop ? step_cpu(opts_.grad_clip) : step_flat_ops(opts_.grad_clip);
  if (std::isfinite(norm.item<double>())) {
    if (ema_) ema_->count_update();
  } else {
    ++skipped_;
  }
  return norm;
}

at::Tensor FusedAdam::step_cpu(double clip_norm) {
  std::vector<at::Tensor> grads(params_.size());
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].grad().defined()) grads[i] = params_[i].grad().contiguous();
  const int64_t n = offset_.back(), spans = (n + kSpan - 1) / kSpan;
  const int64_t t = step_ + 1;  // this update's number (counted only if it happens)
  AdamScalars s{};
  s.beta1 = opts_.beta1;
  s.beta2 = opts_.beta2;
  s.eps = opts_.eps;
  s.sqrt_bias2 = std::sqrt(1 - std::pow(opts_.beta2, static_cast<double>(t)));
  s.step_size = opts_.lr / (1 - std::pow(opts_.beta1, static_cast<double>(t)));
  s.ema_weight = ema_ ? 1 - ema_->current_decay() : 0;
  s.l2 = opts_.decoupled ? 0 : opts_.weight_decay;
  s.decay = opts_.decoupled ? 1 - opts_.lr * opts_.weight_decay : 1;
  double norm = 0;
  AT_DISPATCH_FLOATING_TYPES(flat_.scalar_type(), "fused_adam", [&] {
    std::vector<double> partial(static_cast<size_t>(spans), 0.0);
    at::parallel_for(0, spans, 1, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k)
        for_each_part(offset_, k * kSpan, std::min(n, (k + 1) * kSpan), [&](size_t i, int64_t lo, int64_t hi) {
          if (grads[i].defined()) partial[static_cast<size_t>(k)] += sum_squares(ptr<scalar_t>(grads[i]) + lo, hi - lo);
        });
    });
    double sq = 0;
    for (double x : partial) sq += x;
    norm = std::sqrt(sq);
    if (!std::isfinite(norm)) return;  // nothing changes (step() counts it)
    step_ = t;
    // clip_grad_norm_: the factor is computed and applied in the gradients' type.
    s.clip = clip_norm > 0 ? std::min<double>(static_cast<scalar_t>(clip_norm / (norm + 1e-6)), 1.0) : 1.0;
    scalar_t* shadow = ema_ ? ptr<scalar_t>(ema_->flat()) : nullptr;
    at::parallel_for(0, spans, 1, [&](int64_t b, int64_t e) {
      for_each_part(offset_, b * kSpan, std::min(n, e * kSpan), [&](size_t i, int64_t lo, int64_t hi) {
        int64_t at0 = offset_[i] + lo;
        scalar_t* sh = shadow ? shadow + at0 : nullptr;
        if (grads[i].defined())
          adam_ema_update(ptr<scalar_t>(flat_) + at0, ptr<scalar_t>(grads[i]) + lo, ptr<scalar_t>(m_) + at0,
                          ptr<scalar_t>(v_) + at0, sh, hi - lo, s);
        else if (sh)
          ema_update(ptr<scalar_t>(flat_) + at0, sh, hi - lo, s.ema_weight);
      });
    });
  });
  return at::scalar_tensor(norm, flat_.options());
}

// The same step as tensor operations on the flat buffers (any device, any floating type). A
// parameter without a gradient gets zeros in the norm and keeps its value and moments.
at::Tensor FusedAdam::step_flat_ops(double clip_norm) {
  std::vector<at::Tensor> parts;
  std::vector<std::pair<size_t, std::vector<at::Tensor>>> kept;  // parameters without a gradient
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& g = params_[i].grad();
    parts.push_back(g.defined() ? g.reshape(-1) : at::zeros({params_[i].numel()}, flat_.options()));
    if (!g.defined()) {
      std::vector<at::Tensor> saved;
      for (const at::Tensor* t : {&flat_, &m_, &v_})
        saved.push_back(t->narrow(0, offset_[i], offset_[i + 1] - offset_[i]).clone());
      kept.emplace_back(i, std::move(saved));
    }
  }
  at::Tensor g = at::cat(parts);
  at::Tensor norm = g.norm();
  if (!std::isfinite(norm.item<double>())) return norm;  // nothing changes (step() counts it)
  ++step_;
  if (clip_norm > 0) g.mul_(at::clamp_max(clip_norm / (norm + 1e-6), 1.0));
  if (opts_.weight_decay != 0 && !opts_.decoupled) g.add_(flat_, opts_.weight_decay);
  if (opts_.weight_decay != 0 && opts_.decoupled) flat_.mul_(1 - opts_.lr * opts_.weight_decay);
  double bias2 = std::sqrt(1 - std::pow(opts_.beta2, static_cast<double>(step_)));  // after ++step_
  double step_size = opts_.lr / (1 - std::pow(opts_.beta1, static_cast<double>(step_)));
  m_.mul_(opts_.beta1).add_(g, 1 - opts_.beta1);
  v_.mul_(opts_.beta2).addcmul_(g, g, 1 - opts_.beta2);
  flat_.addcdiv_(m_, v_.sqrt().div_(bias2).add_(opts_.eps), -step_size);
  for (auto& [i, saved] : kept) {
    at::Tensor* bufs[] = {&flat_, &m_, &v_};
    for (size_t k = 0; k < 3; ++k) bufs[k]->narrow(0, offset_[i], offset_[i + 1] - offset_[i]).copy_(saved[k]);
  }
  if (ema_) ema_->flat().lerp_(flat_, 1 - ema_->current_decay());
  return norm;
}

void FusedAdam::save(torch::serialize::OutputArchive& ar) const {
  ar.write("format", c10::IValue(std::string("scorelab-fused-adam-1")));
  ar.write("step", c10::IValue(step_));
  ar.write("exp_avg", m_);
  ar.write("exp_avg_sq", v_);
}

std::vector<at::Tensor> FusedAdam::checksum_tensors() const {
  return {at::scalar_tensor(step_, at::kLong), m_, v_};
}

void FusedAdam::load(torch::serialize::InputArchive& ar) {
  c10::IValue format;
  if (!ar.try_read("format", format)) return load_torch_adam(ar);
  c10::IValue step;
  ar.read("step", step);
  at::Tensor m, v;
  ar.read("exp_avg", m);
  ar.read("exp_avg_sq", v);
  if (m.numel() != m_.numel() || v.numel() != v_.numel())
    throw std::runtime_error("optimizer state has " + std::to_string(m.numel()) + " values, the model " +
                             std::to_string(m_.numel()));
  torch::NoGradGuard no_grad;
  m_.copy_(m);
  v_.copy_(v);
  step_ = step.toInt();
}

// Checkpoints written with torch::optim::Adam: its per-parameter moments into the flat buffers.
void FusedAdam::load_torch_adam(torch::serialize::InputArchive& ar) {
  std::vector<at::Tensor> stand_ins;
  for (const auto& p : params_) stand_ins.push_back(at::zeros_like(p).requires_grad_(true));
  torch::optim::Adam adam(stand_ins, torch::optim::AdamOptions(opts_.lr));
  adam.load(ar);
  torch::NoGradGuard no_grad;
  step_ = 0;
  for (size_t i = 0; i < stand_ins.size(); ++i) {
    auto it = adam.state().find(c10::guts::to_string(stand_ins[i].unsafeGetTensorImpl()));
    if (it == adam.state().end()) continue;
    auto& st = static_cast<torch::optim::AdamParamState&>(*it->second);
    m_.narrow(0, offset_[i], offset_[i + 1] - offset_[i]).copy_(st.exp_avg().reshape(-1));
    v_.narrow(0, offset_[i], offset_[i + 1] - offset_[i]).copy_(st.exp_avg_sq().reshape(-1));
    step_ = std::max(step_, st.step());
  }
}

}  // namespace scorelab
