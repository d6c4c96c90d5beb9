// Sample-quality metrics for low-dimensional data.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace scorelab {

// Sliced Wasserstein-2 distance between point sets x [n, D] and y [m, D]:
//   SW2 = sqrt( E_theta W2^2(theta^T x, theta^T y) ),  theta uniform on the sphere,
// estimated with `projections` random directions; each 1-D W2 compares sorted projections
// (quantiles of the smaller set when sizes differ). Bonneel et al. 2015.
double sliced_wasserstein(const at::Tensor& x, const at::Tensor& y, int64_t projections, at::Generator& gen);

// The same distance to one fixed reference set, with its directions drawn and its projections
// sorted once, for comparing many sample sets (samplers, step counts) on equal terms.
class SlicedW2Reference {
 public:
  SlicedW2Reference(const at::Tensor& ref, int64_t projections, at::Generator& gen);
  double distance(const at::Tensor& x) const;

 private:
  at::Tensor theta_;       // [D, P]
  at::Tensor ref_sorted_;  // [m, P]
};

// Maximum mean discrepancy with an RBF kernel k(a, b) = exp(-||a - b||^2 / (2 h^2)), h the median
// pairwise distance of the pooled points (the median heuristic; Gretton et al. 2012), unbiased
// MMD^2 estimate (it can be slightly negative when x and y agree). Returns {MMD^2, h}.
std::pair<double, double> mmd_rbf(const at::Tensor& x, const at::Tensor& y);

// Energy distance 2 E||X - Y|| - E||X - X'|| - E||Y - Y'|| (Szekely & Rizzo 2013), U-statistics.
double energy_distance(const at::Tensor& x, const at::Tensor& y);

}  // namespace scorelab
