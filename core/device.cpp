#include "core/device.h"

#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <vector>
#include <cstdlib>
#include <fstream>
#include <thread>

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

int available_cores() {
  int n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  std::ifstream quota("/sys/fs/cgroup/cpu.max");  // cgroup v2: "<quota> <period>" or "max <period>"
  std::string q;
  double period = 0;
  if (quota >> q >> period && q != "max" && period > 0) {
    int cap = static_cast<int>(std::ceil(std::stod(q) / period));
    if (cap >= 1) n = std::min(n, cap);
  }
  return std::max(1, n);
}

void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void reexec_with_bounded_openmp_spin(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("GOMP_SPINCOUNT", "10000", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: go on with the default policy
}

int autotune_threads(const std::function<void()>& step, int max_threads, int reps) {
  max_threads = std::max(1, std::min(max_threads, available_cores()));
  if (max_threads == 1) {
    at::set_num_threads(1);
    return 1;
  }
  // 1 thread against max_threads, interleaved (1, N, 1, N, ...) so that load arriving or
  // leaving during the measurement affects both alike; the median of each.
  std::vector<double> one, many;
  for (int n : {1, max_threads}) {  // warm-up: allocator and thread pool
    at::set_num_threads(n);
    step();
  }
  for (int r = 0; r < reps; ++r)
    for (int n : {1, max_threads}) {
      at::set_num_threads(n);
      auto t0 = std::chrono::steady_clock::now();
      step();
      (n == 1 ? one : many).push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  // More threads must buy at least 10% to be worth sharing the machine.
  const int best = median(many) < 0.9 * median(one) ? max_threads : 1;
  at::set_num_threads(best);
  return best;
}

}  // namespace scorelab
