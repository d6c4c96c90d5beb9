#include "core/signals.h"

#include <csignal>

namespace scorelab {
namespace {

volatile std::sig_atomic_t received = 0;

extern "C" void on_stop_signal(int sig) { received = sig; }

void install(int sig) {
  struct sigaction old {};
  if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) return;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_RESETHAND;  // one-shot: a second signal takes the default action
  sigaction(sig, &sa, nullptr);
}

void restore(int sig) {
  struct sigaction old {};
  if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == on_stop_signal) std::signal(sig, SIG_DFL);
}

}  // namespace

void install_stop_handlers() {
  received = 0;
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
