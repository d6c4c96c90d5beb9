// Files that are never seen half-written: write to a temporary file in the same directory,
// fsync it, rename it over the target, fsync the directory.
#pragma once
#include <functional>
#include <string>

namespace scorelab {

// Calls `write(tmp_path)` to produce the file, then atomically publishes it as `path`.
// On any exception the temporary file is removed and `path` is left as it was.
void atomic_publish(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

void atomic_write_text(const std::string& path, const std::string& text);

// An exclusive lock on a directory's `.lock` file (flock: released when the process ends,
// however it ends). The file names the holder (pid, host, start time) for the message a second
// claimant gets. Not inherited by child processes.
class DirLock {
 public:
  // Takes the lock or throws ConfigError "<dir> is in use by <holder>" (`what`: "sweep", "run").
  DirLock(const std::string& dir, const std::string& what);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  // Whether `dir`'s lock is held now by some process (tests).
  static bool held(const std::string& dir);

 private:
  int fd_ = -1;
};

// Removes the temporary files atomic_publish leaves when its process is killed mid-write
// (".<name>.tmp<digits>" in `dir`); returns how many.
int remove_stale_temporaries(const std::string& dir);

std::string read_text(const std::string& path);  // throws std::runtime_error if unreadable

// Runs `f` in a forked child process and returns the signal that killed it (0 when it returned
// or threw): a probe for libraries that crash on damaged input (HDF5 1.10 on some damaged files,
// LibTorch's parser on damaged legacy checkpoints), so the caller can report a clear error
// instead of crashing. A child still running after `timeout_s` is killed and counts as 0.
int crash_signal_in_child(const std::function<void()>& f, double timeout_s = 300);

// One CSV field by RFC 4180: quoted when it holds a comma, a quote or a line break, with each
// quote doubled.
std::string csv_field(const std::string& s);

}  // namespace scorelab
