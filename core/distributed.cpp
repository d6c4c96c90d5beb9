#include "core/distributed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace scorelab {

namespace {

const char* env_var(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int lo, int hi) {
  const char* v = env_var(name);
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || x < lo || x > hi)
    throw std::invalid_argument(std::string("environment variable ") + name + "='" + v + "': expected an integer in [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(x);
}

// SLURM_TASKS_PER_NODE looks like "4(x2),3": the first node's count.
int leading_count(const char* v) { return std::max(1, std::atoi(v)); }

std::unique_ptr<ProcessGroup> g_group;

}  // namespace

DistEnv DistEnv::from_environment() {
  DistEnv e;
  if (env_var("WORLD_SIZE")) {
    e.launcher = "torchrun";
    e.world = env_int("WORLD_SIZE", 1, 1 << 20);
    e.rank = env_var("RANK") ? env_int("RANK", 0, e.world - 1) : 0;
    if (e.world > 1 && !env_var("RANK")) throw std::invalid_argument("environment variable WORLD_SIZE is set but RANK is not");
    e.local_rank = env_var("LOCAL_RANK") ? env_int("LOCAL_RANK", 0, e.world - 1) : e.rank;
    e.local_world = env_var("LOCAL_WORLD_SIZE") ? env_int("LOCAL_WORLD_SIZE", 1, e.world) : e.world;
    if (env_var("SCORELAB_NPROC")) e.launcher = "--nproc";
  } else if (env_var("SLURM_NTASKS") && env_var("SLURM_PROCID")) {
    e.launcher = "slurm";
    e.world = env_int("SLURM_NTASKS", 1, 1 << 20);
    e.rank = env_int("SLURM_PROCID", 0, e.world - 1);
    e.local_rank = env_var("SLURM_LOCALID") ? env_int("SLURM_LOCALID", 0, e.world - 1) : 0;
    e.local_world = env_var("SLURM_NTASKS_PER_NODE")    ? env_int("SLURM_NTASKS_PER_NODE", 1, e.world)
                    : env_var("SLURM_TASKS_PER_NODE") ? std::min(e.world, leading_count(env_var("SLURM_TASKS_PER_NODE")))
                                                  : 1;
    if (env_var("SLURM_LAUNCH_NODE_IPADDR")) e.master_addr = env_var("SLURM_LAUNCH_NODE_IPADDR");
  } else {
    return e;  // one process
  }
  if (env_var("MASTER_ADDR")) e.master_addr = env_var("MASTER_ADDR");
  if (env_var("MASTER_PORT")) e.master_port = env_int("MASTER_PORT", 1, 65535);
  if (e.world == 1) e.launcher.clear();
  return e;
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};

namespace {
// Runs a collective; a failure (a rank died, the timeout passed) becomes one clear message.
template <class F>
void collective(int rank, const std::string& what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (const auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw std::runtime_error("rank " + std::to_string(rank) + ": " + what +
                             " with the other ranks failed (a rank died, was stopped, or did not answer within "
                             "run.dist_timeout): " + msg);
  }
}
}  // namespace

ProcessGroup::ProcessGroup(const DistEnv& e, std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>()), env_(e) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(e.master_port);
  so.isServer = e.rank == 0;
  so.numWorkers = static_cast<std::size_t>(e.world);
  so.waitWorkers = true;
  so.timeout = timeout;
  collective(e.rank, "the rendezvous at " + e.master_addr + ":" + std::to_string(e.master_port), [&] { impl_->store = c10::make_intrusive<c10d::TCPStore>(e.master_addr, so); });
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  if (const char* ifname = env_var("GLOO_SOCKET_IFNAME"))
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (e.master_addr == "127.0.0.1" || e.master_addr == "localhost")
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  opts->threads = 1;
  collective(e.rank, "connecting", [&] {
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, e.rank, e.world, opts);
  });
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::allreduce_sum(at::Tensor& t) {
  collective(rank(), "an all-reduce", [&] {
    std::vector<at::Tensor> v{t};
    impl_->pg->allreduce(v)->wait();
  });
}

void ProcessGroup::allreduce_max(at::Tensor& t) {
  collective(rank(), "an all-reduce", [&] {
    std::vector<at::Tensor> v{t};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::MAX;
    impl_->pg->allreduce(v, o)->wait();
  });
}

void ProcessGroup::allreduce_buckets(const std::vector<at::Tensor>& grads, at::Tensor& extra, int64_t bucket_bytes) {
  size_t i = 0;
  do {
    std::vector<at::Tensor> bucket;
    int64_t bytes = 0;
    while (i < grads.size() && (bucket.empty() || bytes + grads[i].nbytes() <= static_cast<size_t>(bucket_bytes))) {
      bytes += grads[i].nbytes();
      bucket.push_back(grads[i++]);
    }
    const bool last = i == grads.size();
    std::vector<at::Tensor> flat;
    for (const auto& g : bucket) flat.push_back(g.reshape({-1}));
    const at::ScalarType dt = bucket.empty() ? at::kDouble : bucket[0].scalar_type();
    if (last && extra.defined()) flat.push_back(extra.to(bucket.empty() ? extra.device() : bucket[0].device(), dt).reshape({-1}));
    at::Tensor buf = at::cat(flat);
    allreduce_sum(buf);
    int64_t off = 0;
    for (auto& g : bucket) {
      g.copy_(buf.slice(0, off, off + g.numel()).view_as(g));
      off += g.numel();
    }
    if (last && extra.defined()) extra.copy_(buf.slice(0, off, off + extra.numel()).view_as(extra));
  } while (i < grads.size());
}

void ProcessGroup::barrier() {
  // An all-reduce of one number: the same timeout and failure message as the other collectives.
  at::Tensor one = at::ones({1}, at::kFloat);
  collective(rank(), "a barrier", [&] {
    std::vector<at::Tensor> v{one};
    impl_->pg->allreduce(v)->wait();
  });
}

at::Tensor ProcessGroup::allgather_rows(const at::Tensor& t) {
  at::Tensor n = at::tensor({t.size(0)}, at::kLong);
  std::vector<std::vector<at::Tensor>> counts(1);
  for (int r = 0; r < world(); ++r) counts[0].push_back(at::empty_like(n));
  collective(rank(), "an all-gather", [&] {
    std::vector<at::Tensor> in{n};
    impl_->pg->allgather(counts, in)->wait();
  });
  int64_t most = 0;
  for (const auto& c : counts[0]) most = std::max(most, c.item<int64_t>());
  std::vector<int64_t> shape = t.sizes().vec();
  shape[0] = most;
  at::Tensor padded = at::zeros(shape, t.options());
  padded.slice(0, 0, t.size(0)).copy_(t);
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < world(); ++r) out[0].push_back(at::empty_like(padded));
  collective(rank(), "an all-gather", [&] {
    std::vector<at::Tensor> in{padded};
    impl_->pg->allgather(out, in)->wait();
  });
  std::vector<at::Tensor> rows;
  for (int r = 0; r < world(); ++r) rows.push_back(out[0][r].slice(0, 0, counts[0][r].item<int64_t>()));
  return at::cat(rows);
}

ProcessGroup* process_group() { return g_group.get(); }
void set_process_group(std::unique_ptr<ProcessGroup> pg) { g_group = std::move(pg); }

std::pair<int64_t, int64_t> shard_rows(int64_t batch, int rank, int world) {
  return {batch * rank / world, batch * (rank + 1) / world};
}

namespace {
int free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (s < 0 || bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (s >= 0) close(s);
    throw std::runtime_error("--nproc: cannot find a free port on 127.0.0.1");
  }
  const int port = ntohs(a.sin_port);
  close(s);
  return port;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "ended";
}
}  // namespace

namespace {
// The launcher's ranks, for the signal handler: SIGINT / SIGTERM to the launcher go to every rank
// (each checkpoints and stops, core/signals.h), and the launcher waits for them.
pid_t g_ranks[1024];
volatile sig_atomic_t g_nranks = 0, g_forwarded = 0;
extern "C" void forward_signal(int sig) {
  g_forwarded = sig;
  for (int i = 0; i < g_nranks; ++i)
    if (g_ranks[i] > 0) kill(g_ranks[i], sig);
}
}  // namespace

int launch_local(const std::vector<std::string>& args, int nproc, std::chrono::milliseconds grace) {
  if (nproc < 1 || nproc > 1024) throw std::invalid_argument("--nproc must be in [1, 1024]");
  const std::string port = std::to_string(free_port());
  const pid_t parent = getpid();
  std::vector<pid_t> pids;
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("--nproc: fork failed");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher gone: so are its ranks
      if (getppid() != parent) _exit(1);
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", port.c_str(), 1);
      setenv("SCORELAB_NPROC", "1", 1);  // names the launcher in the run's first line
      std::vector<char*> argv;
      std::string self = "scorelab";
      argv.push_back(self.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    pids.push_back(pid);
    g_ranks[r] = pid;
    g_nranks = r + 1;
  }
  struct sigaction sa{};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  int result = 0;
  size_t running = pids.size();
  bool stopping = false;
  auto stop_at = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, stopping ? WNOHANG : 0);
    if (pid > 0) {
      const auto it = std::find(pids.begin(), pids.end(), pid);
      if (it == pids.end()) continue;
      const int r = static_cast<int>(it - pids.begin());
      *it = -1;
      g_ranks[r] = -1;
      --running;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && result == 0 && g_forwarded && WIFEXITED(status) && WEXITSTATUS(status) == 128 + g_forwarded) {
        result = WEXITSTATUS(status);  // stopped by the signal the launcher passed on: the others stop too
        continue;
      }
      if (!ok && result == 0) {
        result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        std::cerr << "scorelab train --nproc " << nproc << ": rank " << r << " " << describe(status)
                  << (running > 0 ? "; stopping the other ranks" : "") << "\n";
        for (pid_t p : pids)
          if (p > 0) kill(p, SIGTERM);
        stopping = true;
        stop_at = std::chrono::steady_clock::now() + grace;
      }
      continue;
    }
    if (stopping) {
      if (std::chrono::steady_clock::now() >= stop_at) {
        for (pid_t p : pids)
          if (p > 0) kill(p, SIGKILL);
        stop_at = std::chrono::steady_clock::time_point::max();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } else if (pid < 0 && errno != EINTR) {
      break;
    }
  }
  return result;
}

}  // namespace scorelab
