// Helpers shared by the tests: scratch directories and tiny run configurations.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace scorelab::test {

// A fresh, empty directory under the build tree's scratch area.
inline std::string scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path p = fs::temp_directory_path() / ("scorelab_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// A small, fast run on the 8-Gaussians toy (seconds on one core).
inline std::string tiny_run_yaml(const std::string& out_dir, const std::string& name, int steps) {
  return "run: {name: " + name + ", out_dir: '" + out_dir +
         "', seed: 3, threads: 1, device: cpu}\n"
         "data: {type: eight_gaussians}\n"
         "sde: {type: vp}\n"
         "model: {type: mlp, hidden: 64, depth: 3, embed_dim: 16}\n"
         "loss: {type: dsm}\n"
         "train: {steps: " +
         std::to_string(steps) +
         ", batch_size: 256, lr: 3.0e-3, log_every: 50, ckpt_every: 100}\n"
         "sample: {type: euler_maruyama, steps: 200, n: 1000}\n"
         "eval: {n: 1000, projections: 128}\n";
}

inline std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

// Waits up to `seconds` for child `pid`: its exit status if it ended (128 + the signal if a
// signal ended it), -1 if it still runs.
inline int wait_for(pid_t pid, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace scorelab::test
