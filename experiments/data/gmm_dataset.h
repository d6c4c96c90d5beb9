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
  // The component each point was drawn from is its label.
  LabelledBatch labelled_batch(int64_t n, at::Generator& gen) override {
    at::Tensor k;
    at::Tensor x = g_.sample(n, gen, &k).to(at::kFloat);
    return {x, k};
  }
  LabelledBatch labelled_sample(int64_t n, at::Generator& gen) override { return labelled_batch(n, gen); }
  int64_t num_classes() const override { return g_.weights.size(0); }
  const GaussianMixture& mixture() const { return g_; }

 private:
  GaussianMixture g_;
};

}  // namespace scorelab
