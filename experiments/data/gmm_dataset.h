// A Gaussian-mixture data set described in YAML with the same keys as the gmm_oracle model
// (weights, means, covs | stds | std), so trained and exact models share one target.
#pragma once
#include "experiments/data/dataset.h"
#include "networks/oracle.h"

namespace scorelab {

class GMMDataset : public Dataset {
 public:
  explicit GMMDataset(GaussianMixture g) : g_(std::move(g)) {}
  std::string name() const override { return "gmm"; }
  std::vector<int64_t> sample_shape() const override { return {g_.dim()}; }
  at::Tensor batch(int64_t n, at::Generator& gen) override { return g_.sample(n, gen).to(at::kFloat); }
  const GaussianMixture& mixture() const { return g_; }

 private:
  GaussianMixture g_;
};

}  // namespace scorelab
