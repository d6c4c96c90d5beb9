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

// Waits until the work queued on `device` is done (CUDA; nothing to wait for on the CPU).
// Timers call it before reading the clock, so that they time work, not kernel launches.
void synchronize(const c10::Device& device);

// A generator on `device` seeded with `seed`, independent of torch's global one.
at::Generator make_generator(uint64_t seed, const c10::Device& device = c10::Device(c10::kCPU));

// CPUs this process may use: its affinity mask, capped by the cgroup's CPU quota
// (/sys/fs/cgroup/cpu.max) — not the machine's core count, which a container or a Slurm
// allocation may not own. At least 1.
int available_cores();

// OpenMP threads waiting at a barrier spin for a long time by default (libgomp: 300,000
// iterations); on a machine another process keeps busy they burn the CPU the working threads
// need. Re-executes this program with GOMP_SPINCOUNT=10000 (spin briefly, then sleep) unless
// OMP_WAIT_POLICY or GOMP_SPINCOUNT is already set: OpenMP reads them once, when the runtime
// loads. Returns only if no re-exec happened (already set, or exec failed).
void reexec_with_bounded_openmp_spin(char** argv);

// Threads runnable right now on the machine besides the calling one (/proc/loadavg's fourth
// field): CPUs that other work is using at this moment.
int busy_elsewhere();

// Keeps freed memory in the process (glibc: no mmap for blocks up to 32 MB, no trimming
// below 1 GB): the tensors a sampler or training step allocates are the same size every step,
// and handing them back to the kernel made every step fault in and zero fresh pages (10% of a
// score evaluation's time in a profile).
void keep_freed_memory();

// Times `step` at 1 and at max_threads intra-op threads, max_threads capped by
// available_cores() - busy_elsewhere() (one thread, no measurement, while another process
// keeps the other cores busy); alternating blocks (1, N, 1, N) of `reps` timed calls, each
// after a warm-up call; max_threads only if its fastest call is at least 10% faster than one
// thread's. Sets and returns the count. SCORELAB_DEBUG_THREADS=1 prints the measurement.
int autotune_threads(const std::function<void()>& step, int max_threads, int reps = 5);

}  // namespace scorelab
