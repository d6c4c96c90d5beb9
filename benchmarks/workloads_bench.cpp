// The workloads of benchmarks/README.md, each timed through the code path a run uses (the
// trainer's TrainingState::step, the samplers' driver loop), at the thread count given as the
// last argument. benchmarks/vs_pytorch.py runs the same work in PyTorch eager Python.
//   BM_MLPTrainStep/<batch>/<threads>  quickstart MLP (embed_dim 128: 165,634 parameters), DSM
//                                      eps-loss under VP, Adam, grad-norm clip 1, EMA
//   BM_ScoreEval/<threads>             one score evaluation of that MLP on 10,000 points
//   BM_EMSampling/<threads>            reverse-SDE Euler–Maruyama, 1000 steps, 10,000 points
//   BM_OracleSampling/<threads>        exact score of a 16-D, 8-component mixture, EM 200 steps,
//                                      1,000 points (overhead-bound)
//   BM_UNetTrainStep/<threads>         fmnist_ddpm.yaml's U-Net, batch 64, DDPM L_simple
//   BM_DDIM50/<threads>                DDIM, 50 steps, 64 images on that U-Net
//   BM_StepPhases/<batch>/<threads>    the MLP training step split into phases (counters: µs of
//                                      forward, backward, clip + Adam + EMA per step)
// SCORELAB_PROFILE=FILE records the run with LibTorch's profiler (see main).
#include <chrono>
#include <cstdlib>
#include <memory>

#include <benchmark/benchmark.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "core/config.h"
#include "core/device.h"
#include "networks/embedding.h"
#include "core/progress.h"
#include "experiments/experiment.h"
#include "experiments/training_state.h"

using namespace scorelab;

namespace {

const char* kMLP =
    "run: {device: cpu, seed: 0}\ndata: {type: eight_gaussians}\nsde: {type: vp}\n"
    "model: {type: mlp, hidden: 256, depth: 3, embed_dim: 128, activation: silu}\n"
    "loss: {type: dsm, weighting: plain}\ntrain: {lr: 2.0e-3, grad_clip: 1.0, ema_decay: 0.999}\n";

// A 16-D mixture of 8 isotropic components on the vertices of a scaled hypercube corner set.
std::string oracle_yaml() {
  std::string means = "[";
  for (int k = 0; k < 8; ++k) {
    means += k ? ", [" : "[";
    for (int d = 0; d < 16; ++d) means += (d ? ", " : "") + std::string(((k >> (d % 3)) & 1) ? "2.0" : "-2.0");
    means += "]";
  }
  means += "]";
  return "run: {device: cpu, seed: 0}\ndata: {type: gmm, means: " + means + ", std: 0.5}\nsde: {type: vp}\n" +
         "model: {type: gmm_oracle, means: " + means + ", std: 0.5}\ntrain: {steps: 0}\n" +
         "sample: {type: euler_maruyama, steps: 200}\n";
}

const char* kUNet =
    "run: {device: cpu, seed: 0}\n"
    "data: {type: fashion_mnist, prefetch: 0}\nsde: {type: ddpm, N: 1000}\n"
    "model: {type: unet, ch: 32, ch_mult: [1, 2, 2], num_res_blocks: 1, attn_resolutions: [7], dropout: 0.1, "
    "groups: 8}\n"
    "loss: {type: ddpm, objective: simple}\ntrain: {batch_size: 64, lr: 5.0e-4, grad_clip: 1.0}\n"
    "sample: {type: ddim, steps: 50}\n";

Experiment experiment(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  Progress::set_quiet(true);
  return build_experiment(Config::from_string(yaml, "bench.yaml", overrides), "bench");
}

void train_steps(benchmark::State& state, const Experiment& ex) {
  auto model = ex.make_model();
  TrainingState st(ex, *model->module());
  model->module()->train();
  at::Tensor gnorm;
  for (int i = 0; i < 3; ++i) st.step(ex, *model, gnorm);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(st.step(ex, *model, gnorm).loss);
}

void sample(benchmark::State& state, const Experiment& ex, int64_t n) {
  auto model = ex.make_model();
  if (model->module()) {
    at::Generator g = make_generator(1);
    init_parameters(*model->module(), g);
    model->module()->eval();
  }
  for (auto _ : state) benchmark::DoNotOptimize(draw_samples(ex, *model, n, 0, "bench").x);
}

}  // namespace

static void BM_MLPTrainStep(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(1)));
  Experiment ex = experiment(kMLP, {"train.batch_size=" + std::to_string(state.range(0))});
  train_steps(state, ex);
}
BENCHMARK(BM_MLPTrainStep)->Args({512, 1})->Args({512, 2})->Args({64, 1})->Args({64, 2})->Unit(benchmark::kMillisecond);

static void BM_ScoreEval(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  Experiment ex = experiment(kMLP);
  auto model = ex.make_model();
  at::Generator g = make_generator(1);
  init_parameters(*model->module(), g);
  model->module()->eval();
  // One time for the whole batch, as a sampler step passes it (a broadcast view).
  at::Tensor x = at::randn({10000, 2}, g), t = at::full({1}, 0.5).expand({10000});
  at::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(model->score(x, t));
}
BENCHMARK(BM_ScoreEval)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

static void BM_EMSampling(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  sample(state, experiment(kMLP, {"sample.type=euler_maruyama", "sample.steps=1000"}), 10000);
}
BENCHMARK(BM_EMSampling)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);

static void BM_OracleSampling(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  sample(state, experiment(oracle_yaml()), 1000);
}
BENCHMARK(BM_OracleSampling)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

static void BM_UNetTrainStep(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  train_steps(state, experiment(kUNet));
}
BENCHMARK(BM_UNetTrainStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

static void BM_DDIM50(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  sample(state, experiment(kUNet), 64);
}
BENCHMARK(BM_DDIM50)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond);

// TrainingState::step with a clock read between its phases (each is synchronous on the CPU).
static void BM_StepPhases(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(1)));
  Experiment ex = experiment(kMLP, {"train.batch_size=" + std::to_string(state.range(0))});
  auto model = ex.make_model();
  TrainingState st(ex, *model->module());
  model->module()->train();
  at::Tensor gnorm;
  for (int i = 0; i < 3; ++i) st.step(ex, *model, gnorm);  // warm-up
  using Clock = std::chrono::steady_clock;
  double us[3] = {0, 0, 0};
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
    us[0] += std::chrono::duration<double, std::micro>(t1 - t0).count();
    us[1] += std::chrono::duration<double, std::micro>(t2 - t1).count();
    us[2] += std::chrono::duration<double, std::micro>(t3 - t2).count();
    ++n;
  }
  state.counters["fwd_us"] = us[0] / n;
  state.counters["bwd_us"] = us[1] / n;
  state.counters["clip_adam_ema_us"] = us[2] / n;
}
BENCHMARK(BM_StepPhases)->Args({512, 1})->Args({64, 1})->Args({64, 2})->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  keep_freed_memory();  // as the CLI does (core/device.h)
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // SCORELAB_PROFILE=FILE: LibTorch's per-operator profile of the whole run into FILE (chrome
  // tracing JSON); pair it with --benchmark_filter and a short --benchmark_min_time.
  std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
  if (const char* file = std::getenv("SCORELAB_PROFILE"))
    profile = std::make_unique<torch::autograd::profiler::RecordProfile>(file);
  benchmark::RunSpecifiedBenchmarks();
  profile.reset();
  benchmark::Shutdown();
  return 0;
}
