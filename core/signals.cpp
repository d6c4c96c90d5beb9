#include "core/signals.h"

#include <csignal>
#include <ctime>
#include <unistd.h>

namespace scorelab {
namespace {

volatile std::sig_atomic_t received = 0;
// Who sent the first signal and when (monotonic, ms): a repeat of it is not a second request.
volatile std::sig_atomic_t first_sender = 0;
volatile long first_ms = 0;

long now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);  // async-signal-safe
  return static_cast<long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

extern "C" void on_stop_signal(int sig, siginfo_t* info, void*) {
  const pid_t sender = info && (info->si_code == SI_USER || info->si_code == SI_QUEUE) ? info->si_pid : 0;
  if (!received) {
    received = sig;
    first_sender = sender;
    first_ms = now_ms();
    return;
  }
  // A repeat from the same process within half a second is the same request: PR_SET_PDEATHSIG
  // signals a sweep's training child once per sweep thread that dies, all from the sweep's pid.
  if (sig == received && sender != 0 && sender == first_sender && now_ms() - first_ms < 500) return;
  // Anything else (Ctrl-C pressed again, a second kill): the default action, at once.
  std::signal(sig, SIG_DFL);
  raise(sig);
}

void install(int sig) {
  struct sigaction old {};
  if (sigaction(sig, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN) return;
  struct sigaction sa {};
  sa.sa_sigaction = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigaction(sig, &sa, nullptr);
}

void restore(int sig) {
  struct sigaction old {};
  if (sigaction(sig, nullptr, &old) == 0 && (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_stop_signal)
    std::signal(sig, SIG_DFL);
}

}  // namespace

void install_stop_handlers() {
  received = 0;
  first_sender = 0;
  install(SIGINT);
  install(SIGTERM);
}

void remove_stop_handlers() {
  restore(SIGINT);
  restore(SIGTERM);
}

int stop_signal() { return received; }

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

}  // namespace scorelab
