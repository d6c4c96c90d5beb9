// The loss interface: a loss sees the model and a batch of data, draws its own randomness from
// the generator it is given, and reports its parts. Parts stay on the device (no host sync
// per step); the trainer reads them once per log interval.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
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
  // Data-parallel training (core/distributed.h): this process computes rows [begin, end) of
  // each batch. The loss still draws the randomness of the whole batch, so every process draws
  // alike and nothing depends on the number of processes; its value, parts and gradient are
  // this process's rows' share of the whole batch's mean, and sum over the processes to the
  // one-process values.
  void set_shard(int64_t begin, int64_t end) const {
    shard_begin_ = begin;
    shard_end_ = end;
  }
  // The rows this process computes of a batch of B ([0, B) without a shard).
  std::pair<int64_t, int64_t> rows_of(int64_t B) const {
    return sharded() ? std::pair<int64_t, int64_t>{shard_begin_, shard_end_} : std::pair<int64_t, int64_t>{0, B};
  }

 protected:
  bool sharded() const { return shard_end_ >= 0; }
  // This process's rows of a tensor whose first dimension is the whole batch.
  at::Tensor mine(const at::Tensor& t) const { return sharded() ? t.slice(0, shard_begin_, shard_end_) : t; }
  // The whole batch's mean of per-example values of which `v` holds this process's rows.
  at::Tensor batch_mean(const at::Tensor& v, int64_t B) const {
    return sharded() ? v.sum() / static_cast<double>(B) : v.mean();
  }
  // This process's share of a quantity constant over the batch (1 without a shard).
  double share(int64_t B) const { return sharded() ? static_cast<double>(shard_end_ - shard_begin_) / static_cast<double>(B) : 1.0; }

  mutable bool per_example_ = false;
  mutable int64_t shard_begin_ = 0, shard_end_ = -1;
};

}  // namespace scorelab
