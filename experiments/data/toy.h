// 2-D toy distributions generated on the fly from a generator (the densities used by FFJORD,
// Grathwohl et al. 2019, and the score-matching literature), scaled to roughly unit spread:
//   eight_gaussians: 8 isotropic Gaussians (std 0.1 * scale) on a circle of radius 2
//   checkerboard:    uniform on the black squares of a 4x4 board on [-2, 2]^2
//   swiss_roll:      the 2-D Swiss roll (t cos t, t sin t) / 5 with Gaussian noise
//   two_moons:       two interleaved half circles with Gaussian noise
#pragma once
#include "experiments/data/dataset.h"

namespace scorelab {

class Config;

const std::vector<std::string>& toy_names();
at::Tensor sample_toy(const std::string& name, int64_t n, at::Generator& gen);

class ToyDataset : public Dataset {
 public:
  explicit ToyDataset(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  std::vector<int64_t> sample_shape() const override { return {2}; }
  at::Tensor batch(int64_t n, at::Generator& gen) override { return sample_toy(name_, n, gen); }

 private:
  std::string name_;
};

}  // namespace scorelab
