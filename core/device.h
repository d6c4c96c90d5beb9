// Device and thread selection (run.device, run.threads) and explicit generators.
#pragma once
#include <functional>
#include <string>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

namespace scorelab {

class Config;

// "auto" picks CUDA when it is available; "cpu", "cuda", "cuda:N" are taken as given
// (an unavailable CUDA device is a ConfigError naming run.device).
c10::Device select_device(const Config& run_cfg, const std::string& key = "device");

// A generator on `device` seeded with `seed`, independent of torch's global one.
at::Generator make_generator(uint64_t seed, const c10::Device& device = c10::Device(c10::kCPU));

// Times `step` with 1..max_threads intra-op threads (`reps` calls each, after one warm-up) and
// sets torch to the fastest count, which it returns. Ties go to fewer threads.
int autotune_threads(const std::function<void()>& step, int max_threads, int reps = 5);

}  // namespace scorelab
