#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "core/progress.h"

int main(int argc, char* argv[]) {
  scorelab::Progress::set_quiet(true);
  return Catch::Session().run(argc, argv);
}
