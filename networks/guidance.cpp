#include "networks/guidance.h"

#include <stdexcept>

#include <ATen/ATen.h>


namespace scorelab {

namespace {
// SplitMix64's finaliser (Steele et al. 2014): a bijective 64-bit mixer.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

LabelledModel::LabelledModel(const ScoreModel& base, at::Tensor y, double guidance)
    : ScoreModel(base.sde_ptr()), base_(base), y_(std::move(y)), w_(guidance) {
  TORCH_CHECK(base_.num_classes() > 0, "class labels need a class-conditional model (model.class_conditional: true)");
  TORCH_CHECK(y_.dim() == 1, "labels: a 1-D tensor of class indices");
}

at::Tensor LabelledModel::predict(const at::Tensor& x, const at::Tensor& t) const {
  TORCH_CHECK(x.size(0) == y_.size(0), "labels: ", y_.size(0), " labels for a batch of ", x.size(0));
  at::Tensor y = y_.device() == x.device() ? y_ : y_.to(x.device());
  if (w_ == 0) return base_.labelled_prediction(x, t, y);
  const int64_t B = x.size(0);
  // Conditional and unconditional halves in one call; a batch-wide t stays a broadcast view.
  const bool shared = t.dim() == 1 && B > 1 && t.stride(0) == 0;
  at::Tensor t2 = shared ? t.slice(0, 0, 1).expand({2 * B}) : at::cat({t, t});
  at::Tensor x2 = at::cat({x, x});
  at::Tensor y2 = at::cat({y, at::full_like(y, base_.num_classes())});
  at::Tensor e = base_.convert(base_.labelled_prediction(x2, t2, y2), base_.kind(), Parameterization::eps, x2, t2);
  at::Tensor ec = e.narrow(0, 0, B), eu = e.narrow(0, B, B);
  return ec + w_ * (ec - eu);  // (1 + w) eps(x, c) - w eps(x, null)
}

ClassChoice ClassChoice::parse(const std::vector<std::string>& words) {
  ClassChoice c;
  if (words.size() == 1 && (words[0] == "none" || words[0] == "uniform" || words[0] == "random")) {
    c.mode = words[0];
    return c;
  }
  if (words.empty()) throw std::invalid_argument("a list of class indices, or one of none, uniform, random");
  c.mode = "list";
  for (const auto& w : words) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(w, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != w.size() || v < 0)
      throw std::invalid_argument("'" + w + "' is not a class index (a list of integers >= 0, or none, uniform, random)");
    c.list.push_back(v);
  }
  return c;
}

std::string ClassChoice::str() const {
  if (mode != "list") return mode;
  std::string s;
  for (size_t i = 0; i < list.size(); ++i) s += (i ? ", " : "") + std::to_string(list[i]);
  return "[" + s + "]";
}

at::Tensor ClassChoice::labels(int64_t num_classes, uint64_t seed, int64_t first, int64_t count) const {
  at::Tensor i = at::arange(first, first + count, at::kLong);
  if (mode == "none") return at::full({count}, num_classes, at::kLong);
  if (mode == "uniform") return i.remainder(num_classes);
  if (mode == "random") {
    // A hash of (seed, sample index): the label of sample i is the same in any batching.
    at::Tensor out = at::empty({count}, at::kLong);
    int64_t* p = out.data_ptr<int64_t>();
    for (int64_t k = 0; k < count; ++k)
      p[k] = static_cast<int64_t>(mix64(mix64(seed ^ 0xc1a55e5ULL) + static_cast<uint64_t>(first + k)) %
                                  static_cast<uint64_t>(num_classes));
    return out;
  }
  for (int64_t c : list)
    if (c >= num_classes)
      throw std::invalid_argument("class " + std::to_string(c) + " of sample.classes: the model has " +
                                  std::to_string(num_classes) + " classes (0.." + std::to_string(num_classes - 1) + ")");
  at::Tensor l = at::tensor(list, at::kLong);
  return l.index_select(0, i.remainder(static_cast<int64_t>(list.size())));
}

at::Tensor drop_labels(const at::Tensor& y, double p, int64_t num_classes, at::Generator& gen) {
  if (p <= 0) return y;
  at::Tensor drop = at::rand({y.size(0)}, gen, at::TensorOptions().dtype(at::kDouble)) < p;
  return at::where(drop.to(y.device()), at::full_like(y, num_classes), y);
}

}  // namespace scorelab
