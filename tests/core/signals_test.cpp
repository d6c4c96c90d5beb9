#include <catch2/catch.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include "core/signals.h"

using namespace scorelab;

namespace {

// A child that installs the stop handlers, says "ready", says "got" once a stop signal arrived,
// then waits `linger_ms` (for a repeat) and exits with stop_signal() as its exit code.
struct Child {
  pid_t pid = -1;
  int from_child = -1;
};

Child start_child(int linger_ms) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  Child c;
  c.pid = fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    close(fds[0]);
    install_stop_handlers();
    if (write(fds[1], "r", 1) != 1) _exit(100);
    while (!stop_signal()) usleep(1000);
    if (write(fds[1], "g", 1) != 1) _exit(101);
    usleep(static_cast<useconds_t>(linger_ms) * 1000);
    _exit(stop_signal());
  }
  close(fds[1]);
  c.from_child = fds[0];
  return c;
}

char wait_for(const Child& c) {
  char b = 0;
  REQUIRE(read(c.from_child, &b, 1) == 1);
  return b;
}

int finish(Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  close(c.from_child);
  return status;
}

}  // namespace

TEST_CASE("a stop signal repeated by the same process within half a second is one request",
          "[core][signals][reliability]") {
  // What a SIGKILLed sweep does to its training child: one SIGTERM per sweep thread that dies.
  Child c = start_child(300);
  CHECK(wait_for(c) == 'r');
  REQUIRE(kill(c.pid, SIGTERM) == 0);
  CHECK(wait_for(c) == 'g');  // handled before the repeat (signals pending at once would merge)
  REQUIRE(kill(c.pid, SIGTERM) == 0);
  const int status = finish(c);
  REQUIRE(WIFEXITED(status));  // survived the repeat and stopped cleanly
  CHECK(WEXITSTATUS(status) == SIGTERM);
}

TEST_CASE("a second stop signal from another process, or later, ends the process at once",
          "[core][signals][reliability]") {
  SECTION("another process") {
    Child c = start_child(5000);
    CHECK(wait_for(c) == 'r');
    REQUIRE(kill(c.pid, SIGINT) == 0);
    CHECK(wait_for(c) == 'g');
    const pid_t helper = fork();
    REQUIRE(helper >= 0);
    if (helper == 0) _exit(kill(c.pid, SIGINT) == 0 ? 0 : 1);
    int hs = 0;
    waitpid(helper, &hs, 0);
    CHECK(WEXITSTATUS(hs) == 0);
    const int status = finish(c);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGINT);
  }
  SECTION("the same process after the half second") {
    Child c = start_child(5000);
    CHECK(wait_for(c) == 'r');
    REQUIRE(kill(c.pid, SIGTERM) == 0);
    CHECK(wait_for(c) == 'g');
    usleep(700 * 1000);
    REQUIRE(kill(c.pid, SIGTERM) == 0);
    const int status = finish(c);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
  }
}
