#include "core/device.h"

#include <chrono>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "core/config.h"

namespace scorelab {

c10::Device select_device(const Config& run_cfg, const std::string& key) {
  std::string d = run_cfg.get_string(key, "auto");
  if (d == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (d == "cpu") return c10::Device(c10::kCPU);
  if (d == "cuda" || d.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (d.size() > 5) {
      try {
        size_t used = 0;
        index = std::stoi(d.substr(5), &used);
        if (used != d.size() - 5 || index < 0) throw std::invalid_argument(d);
      } catch (const std::exception&) {
        run_cfg.fail(key, "'" + d + "' is not a device (auto, cpu, cuda or cuda:N)");
      }
    }
    if (!torch::cuda::is_available())
      run_cfg.fail(key, "'" + d + "' requested but this build of LibTorch sees no CUDA device");
    if (index >= static_cast<int>(torch::cuda::device_count()))
      run_cfg.fail(key, "'" + d + "' requested but only " + std::to_string(torch::cuda::device_count()) +
                            " CUDA device(s) are present");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  run_cfg.fail(key, "'" + d + "' is not a device (auto, cpu, cuda or cuda:N)");
}

at::Generator make_generator(uint64_t seed, const c10::Device& device) {
  at::Generator g = at::globalContext().defaultGenerator(device).clone();
  g.set_current_seed(seed);
  return g;
}

int autotune_threads(const std::function<void()>& step, int max_threads, int reps) {
  int best = 1;
  double best_time = 0;
  for (int n = 1; n <= std::max(1, max_threads); ++n) {
    at::set_num_threads(n);
    step();  // warm-up: allocator and thread pool
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) step();
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // A second thread must buy at least 10% to be worth sharing a 2-core machine.
    if (n == 1 || dt < 0.9 * best_time) {
      best = n;
      best_time = dt;
    }
  }
  at::set_num_threads(best);
  return best;
}

}  // namespace scorelab
