#include <catch2/catch.hpp>

#include "core/config.h"

using scorelab::Config;
using scorelab::ConfigError;
using Catch::Matchers::Contains;

namespace {
const char* kYaml =
    "run:\n"
    "  name: demo\n"
    "  seed: 7\n"
    "train:\n"
    "  steps: 100\n"
    "  lr: 1.0e-3\n"
    "  resume: false\n"
    "  stesp: 5\n";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("typed getters read values and fill defaults", "[core][config]") {
  Config c = Config::from_string(kYaml, "exp.yaml");
  CHECK(c.at("run").get_string("name") == "demo");
  CHECK(c.at("run").get_int("seed", 0) == 7);
  CHECK(c.at("train").get_double("lr", 0.1) == 1e-3);
  CHECK(c.at("train").get_bool("resume", true) == false);
  CHECK(c.at("train").get_int("batch_size", 64) == 64);  // default
  std::string resolved = c.resolved_yaml();
  CHECK_THAT(resolved, Contains("batch_size: 64"));
  CHECK_THAT(resolved, Contains("seed: 7"));
}

TEST_CASE("an unknown key is reported with file, line and key path", "[core][config]") {
  Config c = Config::from_string(kYaml, "exp.yaml");
  c.at("run").get_string("name");
  c.at("run").get_int("seed", 0);
  Config t = c.at("train");
  t.get_int("steps", 1);
  t.get_double("lr", 1);
  t.get_bool("resume", false);
  std::string err = error_of([&] { c.check_unused(); });
  CHECK_THAT(err, Contains("exp.yaml:8: train.stesp: unknown key"));
  CHECK_THAT(err, Contains("known here: lr, resume, steps"));
}

TEST_CASE("an unknown section is reported once, at its line", "[core][config]") {
  Config c = Config::from_string("run:\n  seed: 1\nmodle:\n  hidden: 3\n", "e.yaml");
  c.at("run").get_int("seed", 0);
  std::string err = error_of([&] { c.check_unused(); });
  CHECK_THAT(err, Contains("e.yaml:3: modle: unknown key"));
  CHECK_THAT(err, !Contains("hidden"));
}

TEST_CASE("wrong types and out-of-range values name file:line: key", "[core][config]") {
  Config c = Config::from_string("train:\n  steps: many\n  lr: -1\n  resume: maybe\n  batch: [1, 2]\n", "x.yaml");
  Config t = c.at("train");
  CHECK_THAT(error_of([&] { t.get_int("steps", 1); }), Contains("x.yaml:2: train.steps: expected an integer, got 'many'"));
  CHECK_THAT(error_of([&] { t.get_positive("lr", 1); }), Contains("x.yaml:3: train.lr: must be > 0, got -1"));
  CHECK_THAT(error_of([&] { t.get_double("lr", 1, 0, 1); }), Contains("train.lr: must be in [0, 1], got -1"));
  CHECK_THAT(error_of([&] { t.get_bool("resume", false); }), Contains("x.yaml:4: train.resume: expected true or false"));
  CHECK_THAT(error_of([&] { t.get_int("batch", 1); }), Contains("x.yaml:5: train.batch: expected an integer, got a list"));
  CHECK_THAT(error_of([&] { t.get_int("missing"); }), Contains("train.missing: required key is missing"));
  CHECK_THAT(error_of([&] { t.get_choice("mode", "a", {"b", "c"}); }), Contains("'a' is not one of: b, c"));
  CHECK_THAT(error_of([&] { t.get_int("steps_ok", 5, 10, 20); }), Contains("must be in [10, 20], got 5"));
}

TEST_CASE("a YAML syntax error names its line", "[core][config]") {
  std::string err = error_of([] { Config::from_string("run:\n  name: [unclosed\n", "bad.yaml"); });
  CHECK_THAT(err, Contains("bad.yaml:"));
  CHECK_THAT(err, Contains("YAML parse error"));
}

TEST_CASE("overrides are typed like the YAML they replace", "[core][config]") {
  Config c = Config::from_string(kYaml, "exp.yaml", {"train.steps=250", "train.lr=5e-4", "run.name=007",
                                                     "train.resume=true", "model.hidden=32"});
  CHECK(c.at("train").get_int("steps", 0) == 250);
  CHECK(c.at("train").get_double("lr", 0) == 5e-4);
  CHECK(c.at("run").get_string("name") == "007");  // a string stays a string
  CHECK(c.at("train").get_bool("resume", false));
  CHECK(c.at("model").get_int("hidden", 0) == 32);  // creates the section
  // A value of the wrong type is reported as coming from the command line.
  Config bad = Config::from_string(kYaml, "exp.yaml", {"train.steps=1.5"});
  CHECK_THAT(error_of([&] { bad.at("train").get_int("steps", 0); }),
             Contains("<command line>: train.steps: expected an integer, got '1.5'"));
}

TEST_CASE("malformed overrides are rejected", "[core][config]") {
  CHECK_THAT(error_of([] { Config::from_string(kYaml, "e", {"train.steps"}); }), Contains("key.path=value"));
  CHECK_THAT(error_of([] { Config::from_string(kYaml, "e", {"=3"}); }), Contains("key.path=value"));
  CHECK_THAT(error_of([] { Config::from_string(kYaml, "e", {"train.steps.x=3"}); }),
             Contains("'train.steps' is a value, not a section"));
}

TEST_CASE("an override of an unknown key is reported as from the command line", "[core][config]") {
  Config c = Config::from_string("run:\n  seed: 1\n", "e.yaml", {"run.sed=2"});
  c.at("run").get_int("seed", 0);
  CHECK_THAT(error_of([&] { c.check_unused(); }), Contains("<command line>: run.sed: unknown key"));
}

TEST_CASE("non-finite numbers in a config are refused, naming the key", "[core][config][reliability]") {
  Config c = Config::from_string("train:\n  lr: .inf\n  clip: .nan\n  decay: -.inf\nmodel:\n  means: [[0, 1], [.nan, 2]]\n",
                                 "n.yaml");
  CHECK_THAT(error_of([&] { c.at("train").get_positive("lr", 1); }), Contains("n.yaml:2: train.lr: expected a finite number, got .inf"));
  CHECK_THAT(error_of([&] { c.at("train").get_double("clip", 1, 0); }), Contains("n.yaml:3: train.clip: expected a finite number"));
  CHECK_THAT(error_of([&] { c.at("train").get_double("decay", 1); }), Contains("train.decay: expected a finite number"));
  CHECK_THAT(error_of([&] { c.at("model").get_array("means"); }), Contains("model.means: expected finite numbers, got .nan"));
}
