#include <catch2/catch.hpp>

#include "core/registry.h"
#include "experiments/registries.h"

using namespace scorelab;
using Catch::Matchers::Contains;

TEST_CASE("an unknown type names the file, line, key and the available types", "[core][registry]") {
  Config c = Config::from_string("sde:\n  type: vpp\n", "exp.yaml");
  try {
    builtin_registries().sde.build(c.at("sde"), "vp");
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Contains("exp.yaml:2: sde.type: unknown sde type 'vpp' (available: ddpm, subvp, ve, vp)"));
  }
}

TEST_CASE("duplicate registration is an error, lookups list names", "[core][registry]") {
  Registry<int> r("thing");
  r.add("a", [](const Config&) { return std::make_shared<int>(1); });
  CHECK_THROWS_AS(r.add("a", [](const Config&) { return std::make_shared<int>(2); }), std::logic_error);
  r.add("b", [](const Config&) { return std::make_shared<int>(2); });
  CHECK(r.names() == std::vector<std::string>{"a", "b"});
  Config c = Config::from_string("x: {}\n", "e.yaml");
  CHECK(*r.build(c.at("x"), "b") == 2);  // default type
}
