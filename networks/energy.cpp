#include "networks/energy.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "core/tensor_util.h"

namespace scorelab {

at::Tensor EnergyScoreModel::energy(const at::Tensor& x, const at::Tensor& t) const {
  return sum_except_batch(net_->forward(x, conditioning_value(c_, sde(), t)));
}

at::Tensor EnergyScoreModel::predict(const at::Tensor& x, const at::Tensor& t) const {
  const bool keep_graph = at::GradMode::is_enabled();
  at::AutoGradMode enable(true);
  at::Tensor xg = x;
  if (!xg.requires_grad()) xg = x.detach().requires_grad_(true);
  at::Tensor E = energy(xg, t).sum();
  at::Tensor grad = torch::autograd::grad({E}, {xg}, {}, /*retain_graph=*/keep_graph, /*create_graph=*/keep_graph)[0];
  return keep_graph ? -grad : -grad.detach();
}

}  // namespace scorelab
