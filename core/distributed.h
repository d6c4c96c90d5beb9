// Data-parallel training over torch.distributed's c10d (docs/distributed.md): a process group
// (Gloo on the CPU) after a rendezvous through a TCPStore, found the way PyTorch's launchers
// describe a process:
//   torchrun: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   Slurm (srun): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE (or
//     SLURM_TASKS_PER_NODE), MASTER_ADDR (default SLURM_LAUNCH_NODE_IPADDR), MASTER_PORT
//   `scorelab train exp.yaml --nproc N` sets the torchrun variables for N processes on this machine.
// The c10d headers stay in distributed.cpp (they pull in Gloo's).
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace scorelab {

struct DistEnv {
  int rank = 0, world = 1, local_rank = 0, local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher;  // "torchrun", "--nproc", "slurm" or "" (one process)
  // From the environment. Throws std::invalid_argument naming the variable when the variables
  // are inconsistent (RANK >= WORLD_SIZE, a port out of range, ...).
  static DistEnv from_environment();
};

class ProcessGroup {
 public:
  // Rendezvous (rank 0 serves the TCPStore at master_addr:master_port) and a Gloo group on
  // the interface that reaches master_addr. `timeout`: the longest a collective waits for
  // the other ranks (a rank that dies is noticed at once: its connections close).
  ProcessGroup(const DistEnv& env, std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return env_.rank; }
  int world() const { return env_.world; }
  const DistEnv& env() const { return env_; }
  // In place: the sum of `t` over the ranks (every rank passes the same shape and dtype;
  // contiguous CPU or device tensors).
  void allreduce_sum(at::Tensor& t);
  void allreduce_max(at::Tensor& t);
  // Gradients summed over the ranks in buckets of at most `bucket_bytes` (each bucket one
  // flat buffer, one all-reduce); `extra` (small float64 values) rides in the last bucket.
  void allreduce_buckets(const std::vector<at::Tensor>& grads, at::Tensor& extra, int64_t bucket_bytes);
  void barrier();
  // Every rank's rows of `t` ([n_r, ...], n_r may differ), concatenated in rank order.
  at::Tensor allgather_rows(const at::Tensor& t);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DistEnv env_;
};

// The process group of this process (nullptr when it runs alone): set by the train command
// when the environment describes more than one process.
ProcessGroup* process_group();
void set_process_group(std::unique_ptr<ProcessGroup> pg);

// Rows [begin, end) of a batch of `batch` rows that rank `rank` of `world` computes.
std::pair<int64_t, int64_t> shard_rows(int64_t batch, int rank, int world);

// `scorelab train ... --nproc N`: runs this program N times with the torchrun variables
// (MASTER_ADDR 127.0.0.1, a free port), `args` being the command line without --nproc. Waits
// for all; when one fails, stops the others (SIGTERM, then SIGKILL after `grace`) and returns
// its exit status with a message naming the rank. Returns 0 when all succeed.
int launch_local(const std::vector<std::string>& args, int nproc, std::chrono::milliseconds grace);

}  // namespace scorelab
