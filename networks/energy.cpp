#include "networks/energy.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace scorelab {

at::Tensor EnergyScoreModel::energy(const at::Tensor& x, const at::Tensor& t) const {
  return net_->forward(x, t).reshape({x.size(0)});
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
