// Thread-count measurements behind run.threads' default (docs/performance.md): the quickstart's
// training step and a 1024^2 matmul at 1 and 2 intra-op threads, in one run.
#include <benchmark/benchmark.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/adam.h>

#include "core/device.h"
#include "experiments/experiment.h"
#include "networks/embedding.h"

using namespace scorelab;

static void BM_MatMul1024(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  at::Tensor a = at::randn({1024, 1024}), b = at::randn({1024, 1024});
  for (auto _ : state) benchmark::DoNotOptimize(at::mm(a, b));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 1024 * 1024 * 1024, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MatMul1024)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

static void BM_QuickstartTrainStep(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  Config cfg = Config::from_string(
      "run: {device: cpu}\ndata: {type: eight_gaussians}\nmodel: {hidden: 128, depth: 3}\ntrain: {batch_size: 512}\n",
      "bench");
  Experiment ex = build_experiment(cfg, "bench");
  auto model = ex.make_model();
  torch::optim::Adam opt(model->module()->parameters(), torch::optim::AdamOptions(1e-3));
  at::Generator g = make_generator(0);
  for (auto _ : state) {
    at::Tensor x = ex.data->batch(512, g);
    auto r = (*ex.loss)(*model, x, g);
    opt.zero_grad();
    r.loss.backward();
    opt.step();
  }
}
BENCHMARK(BM_QuickstartTrainStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
