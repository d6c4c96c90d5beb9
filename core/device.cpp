#include "core/device.h"

#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <vector>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <chrono>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
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

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) at::detail::getCUDAHooks().deviceSynchronize(device.has_index() ? device.index() : 0);
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

int busy_elsewhere() {
  std::ifstream in("/proc/loadavg");  // "0.52 0.58 0.59 3/412 12345": runnable now / total
  double l1, l5, l15;
  std::string running;
  if (!(in >> l1 >> l5 >> l15 >> running)) return 0;
  auto slash = running.find('/');
  if (slash == std::string::npos) return 0;
  // Minus this process's own runnable threads (this one, OpenMP workers still spinning).
  int own = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'R') ++own;
  }
  return std::max(0, std::stoi(running.substr(0, slash)) - std::max(1, own));
}

int autotune_threads(const std::function<void()>& step, int max_threads, int reps) {
  // Cores another process is using now are not ours to share: with one busy process on a
  // 2-core machine this is 1 thread, without a measurement that load could mislead.
  const int busy = busy_elsewhere();
  if (std::getenv("SCORELAB_DEBUG_THREADS")) std::fprintf(stderr, "autotune: busy elsewhere %d\n", busy);
  max_threads = std::max(1, std::min(max_threads, available_cores() - busy));
  if (max_threads == 1) {
    at::set_num_threads(1);
    return 1;
  }
  // 1 thread against max_threads in alternating blocks (1, N, 1, N), so that load arriving or
  // leaving during the measurement affects both alike; the first call after each switch of
  // the thread count is a warm-up (switching costs a call), the rest are timed.
  std::vector<double> one, many;
  for (int round = 0; round < 2; ++round)
    for (int n : {1, max_threads}) {
      at::set_num_threads(n);
      step();
      for (int r = 0; r < reps; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        step();
        (n == 1 ? one : many).push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
  // The fastest call of each: interference (other processes, page faults) only adds time.
  const double t1 = *std::min_element(one.begin(), one.end());
  const double tn = *std::min_element(many.begin(), many.end());
  // More threads must buy at least 10% to be worth sharing the machine.
  const int best = tn < 0.9 * t1 ? max_threads : 1;
  if (std::getenv("SCORELAB_DEBUG_THREADS"))
    std::fprintf(stderr, "autotune: 1 thread %.3g ms, %d threads %.3g ms -> %d\n", 1e3 * t1, max_threads, 1e3 * tn,
                 best);
  at::set_num_threads(best);
  return best;
}

}  // namespace scorelab
