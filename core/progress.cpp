#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>

namespace scorelab {
namespace {
bool g_quiet = false;

std::string clock_text(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--";
  int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", static_cast<long>(t / 3600), static_cast<long>(t / 60 % 60),
                  static_cast<long>(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", static_cast<long>(t / 60), static_cast<long>(t % 60));
  return buf;
}
}  // namespace

void Progress::set_quiet(bool quiet) { g_quiet = quiet; }
bool Progress::quiet() { return g_quiet; }

Progress::Progress(std::string label, int64_t total, int64_t start, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(std::max<int64_t>(total, 1)), start_(start),
      tty_(isatty(STDERR_FILENO) != 0), t0_(std::chrono::steady_clock::now()), last_draw_(t0_) {}

void Progress::set_total(int64_t total) { total_ = std::max<int64_t>(total, 1); }

std::string Progress::line(int64_t done, const std::string& status) const {
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  double rate = el > 0 ? (done - start_) / el : 0;
  double eta = rate > 0 ? (total_ - done) / rate : -1;
  std::ostringstream os;
  os << label_ << " ";
  if (tty_) {
    const int width = 24;
    int fill = static_cast<int>(width * done / total_);
    os << "[" << std::string(fill, '#') << std::string(width - fill, '.') << "] ";
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "%3d%% %ld/%ld %.1f %s/s elapsed %s eta %s", static_cast<int>(100 * done / total_),
                static_cast<long>(done), static_cast<long>(total_), rate, unit_.c_str(), clock_text(el).c_str(),
                clock_text(eta).c_str());
  os << buf;
  if (!status.empty()) os << " " << status;
  return os.str();
}

void Progress::update(int64_t done, const std::string& status) {
  if (g_quiet || finished_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (tty_) {
    if (since < 0.1 && done < total_) return;
    std::cerr << "\r\033[K" << line(done, status) << std::flush;
  } else {
    if (done >= total_) return;  // finish() prints the 100% line
    int64_t bucket = 10 * done / total_;
    if (bucket == last_bucket_ && since < 30) return;
    last_bucket_ = bucket;
    std::cerr << line(done, status) << "\n" << std::flush;
  }
  last_draw_ = now;
}

void Progress::finish(const std::string& status) {
  if (g_quiet || finished_) return;
  finished_ = true;
  std::cerr << (tty_ ? "\r\033[K" : "") << line(total_, status) << "\n" << std::flush;
}

}  // namespace scorelab
