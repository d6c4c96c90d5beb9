// Where one MLP training step spends its time, phase by phase (docs/performance.md):
// batch + loss forward, backward, gradient clipping, optimizer, EMA. Same code as
// TrainingState::step, with a clock read between phases (each phase is synchronous on the CPU).
//   BM_StepPhases/<batch>/<threads>   counters: per-phase microseconds per step
// With SCORELAB_PROFILE=FILE, ten steps of the first benchmark are also recorded with LibTorch's
// profiler into FILE (chrome://tracing JSON; per-operator times).
#include <chrono>
#include <cstdlib>
#include <memory>

#include <benchmark/benchmark.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "core/config.h"
#include "core/device.h"
#include "core/progress.h"
#include "experiments/experiment.h"
#include "experiments/training_state.h"

using namespace scorelab;

namespace {
const char* kMLP =
    "run: {device: cpu, seed: 0}\ndata: {type: eight_gaussians}\nsde: {type: vp}\n"
    "model: {type: mlp, hidden: 256, depth: 3, embed_dim: 128, activation: silu}\n"
    "loss: {type: dsm, weighting: plain}\ntrain: {lr: 2.0e-3, grad_clip: 1.0, ema_decay: 0.999}\n";
using Clock = std::chrono::steady_clock;
double us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}
}  // namespace

static void BM_StepPhases(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(1)));
  Progress::set_quiet(true);
  Experiment ex = build_experiment(
      Config::from_string(kMLP, "bench.yaml", {"train.batch_size=" + std::to_string(state.range(0))}), "bench");
  auto model = ex.make_model();
  TrainingState st(ex, *model->module());
  model->module()->train();
  at::Tensor gnorm;
  for (int i = 0; i < 3; ++i) st.step(ex, *model, gnorm);
  static bool profiled = false;
  if (const char* file = std::getenv("SCORELAB_PROFILE"); file && !profiled) {
    profiled = true;
    torch::autograd::profiler::RecordProfile guard(file);
    for (int i = 0; i < 10; ++i) st.step(ex, *model, gnorm);
  }
  double t_fwd = 0, t_bwd = 0, t_opt = 0;
  int64_t n = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    at::Tensor x = ex.data->batch(ex.train.batch_size, st.data_gen).to(ex.device, ex.run.dtype);
    LossResult r = (*ex.loss)(*model, x, st.noise_gen);
    auto t1 = Clock::now();
    st.zero_grad();
    r.loss.backward();
    auto t2 = Clock::now();
    gnorm = st.apply_gradients();
    auto t3 = Clock::now();
    t_fwd += us(t0, t1), t_bwd += us(t1, t2), t_opt += us(t2, t3);
    ++n;
  }
  state.counters["fwd_us"] = t_fwd / n;
  state.counters["bwd_us"] = t_bwd / n;
  state.counters["clip_adam_ema_us"] = t_opt / n;
}
BENCHMARK(BM_StepPhases)->Args({512, 1})->Args({64, 1})->Args({64, 2})->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  keep_freed_memory();  // as the CLI does (core/device.h)
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
