#include "core/fsutil.h"

#include "core/error.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace scorelab {
namespace fs = std::filesystem;

namespace {
void fsync_path(const std::string& p, bool directory) {
  int fd = ::open(p.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + p + " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("fsync failed for " + p);
}
}  // namespace

void atomic_publish(const std::string& path, const std::function<void(const std::string&)>& write) {
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::random_device rd;
  fs::path tmp = dir / ("." + target.filename().string() + ".tmp" + std::to_string(rd() % 1000000));
  try {
    write(tmp.string());
    fsync_path(tmp.string(), false);
    fs::rename(tmp, target);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw StorageError(storage_message(path, e.what()));
  }
  fsync_path(dir.string(), true);
}

std::string storage_message(const std::string& path, const std::string& cause) {
  const int err = errno;
  std::string why = cause.substr(0, cause.find('\n'));
  if (err == ENOSPC || err == EFBIG || err == EDQUOT) why += ": " + std::string(std::strerror(err));
  return "could not write " + path + " (" + why +
         "). Is the disk full, or a file-size limit or quota reached? What was written before is intact "
         "(the previous checkpoint, the log up to its last flush); free space and run the command again "
         "(training continues with train.resume=true).";
}

void atomic_write_text(const std::string& path, const std::string& text) {
  atomic_publish(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  });
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

int remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp");
    if (name.size() < 2 || name[0] != '.' || at == std::string::npos || at + 4 == name.size()) continue;
    if (name.find_first_not_of("0123456789", at + 4) != std::string::npos) continue;
    if (fs::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

DirLock::DirLock(const std::string& dir, const std::string& what) {
  const std::string path = dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StorageError(storage_message(path, std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string holder = read_text(path);
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    throw ConfigError(dir + ": this " + what + " is in use by " + (holder.empty() ? "another process" : holder) +
                      "; wait for it to end (or stop it), or use another directory");
  }
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  const std::string text = "process " + std::to_string(::getpid()) + " on " + host + " since " + when + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    ssize_t ignored = ::pwrite(fd_, text.data(), text.size(), 0);
    (void)ignored;
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

int crash_signal_in_child(const std::function<void()>& f, double timeout_s) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return 0;  // no probe possible: the caller goes on
  if (pid == 0) {
    try {
      f();
    } catch (...) {
    }
    ::_exit(0);
  }
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (r < 0) return 0;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_s) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

bool DirLock::held(const std::string& dir) {
  int fd = ::open((dir + "/.lock").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return busy;
}

}  // namespace scorelab
