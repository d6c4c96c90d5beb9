// Sample-quality metrics for low-dimensional data.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace scorelab {

// Sliced Wasserstein-2 distance between point sets x [n, D] and a reference y [m, D]:
//   SW2 = sqrt( E_theta W2^2(theta^T x, theta^T y) ),  theta uniform on the sphere,
// estimated with `projections` random directions; each 1-D W2 compares sorted projections
// (quantiles of the smaller set when sizes differ). Bonneel et al. 2015.
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

// Mean [d] and unbiased covariance [d, d] (float64, CPU) of feature vectors [n, d].
struct GaussianStats {
  at::Tensor mean, cov;
};
GaussianStats gaussian_stats(const at::Tensor& features);

// Fréchet (2-Wasserstein) distance between the Gaussians N(m1, S1) and N(m2, S2):
//   ||m1 - m2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})   (Dowson & Landau 1982; FID: Heusel et al. 2017)
// with Tr (S1 S2)^{1/2} = sum_i sqrt(lambda_i(S1^{1/2} S2 S1^{1/2})), computed by symmetric
// eigendecompositions in float64 (tiny negative eigenvalues from round-off are clipped to 0).
double frechet_distance(const GaussianStats& a, const GaussianStats& b);

// Energy distance 2 E||X - Y|| - E||X - X'|| - E||Y - Y'|| (Szekely & Rizzo 2013), U-statistics.
double energy_distance(const at::Tensor& x, const at::Tensor& y);

}  // namespace scorelab
