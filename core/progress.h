// A progress bar (rate, ETA, a status such as the current loss) for training and sampling, on
// stderr (stdout keeps the results). On a terminal it redraws one line; otherwise it prints a
// plain line every 10% of the work (or every 30 s), so logs of batch jobs stay readable; the
// 100% line is printed once, by finish().
// `--quiet` (every command) turns it off.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace scorelab {

class Progress {
 public:
  // `unit`: what is counted ("steps"); the rate reads "<unit>/s".
  Progress(std::string label, int64_t total, int64_t start = 0, std::string unit = "steps");
  void set_total(int64_t total);  // when the amount of work is known only once it starts
  // Time spent on other work (an evaluation during training): left out of the rate and ETA.
  void exclude(std::chrono::steady_clock::duration d) { t0_ += d; }
  void update(int64_t done, const std::string& status = "");
  void finish(const std::string& status = "");
  static void set_quiet(bool quiet);  // tests and nested runs
  static bool quiet();

 private:
  std::string line(int64_t done, const std::string& status) const;
  std::string label_, unit_;
  int64_t total_, start_, last_bucket_ = -1;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point t0_, last_draw_;
};

}  // namespace scorelab
