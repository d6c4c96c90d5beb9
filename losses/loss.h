// The loss interface: a loss sees the model and a batch of data, draws its own randomness from
// the generator it is given, and reports its parts. Parts stay on the device (no host sync
// per step); the trainer reads them once per log interval.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace scorelab {

class ScoreModel;
class SDE;

struct LossResult {
  at::Tensor loss;                          // scalar to minimise
  std::map<std::string, at::Tensor> parts;  // detached scalars for the log
  // Optional, detached, [B]: each example's unweighted error (||eps_hat - eps||^2 summed over
  // its dimensions for DSM, L_simple's term for the DDPM loss) and where its t lies in the
  // loss's time range, in [0, 1]. The trainer logs the error per quarter of that range.
  at::Tensor per_example, t_frac;
};

// What a loss may check when it is built (so that misuse fails before training starts).
struct LossContext {
  std::shared_ptr<const SDE> sde;
  std::vector<int64_t> sample_shape;  // one example's shape
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;
  virtual LossResult operator()(const ScoreModel& model, const at::Tensor& x0, at::Generator& gen) const = 0;
  // Names of the parts this loss reports (the run log's columns).
  virtual std::vector<std::string> part_names() const = 0;
  // Asks for LossResult::per_example / t_frac where they cost extra (DSM's fused plain
  // objective); losses fill them where they can (the trainer asks, benchmarks do not).
  void set_per_example(bool on) const { per_example_ = on; }

 protected:
  mutable bool per_example_ = false;
};

}  // namespace scorelab
