// `scorelab report`: one self-contained HTML page per run, sweep or comparison. Checked as text
// (every figure embedded, every table and the config present, no external resource) and, where
// Debian's chromium is installed (scripts/setup.sh installs it), loaded in headless Chromium:
// the page's script runs without a console error, every image decodes and the tables are there.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "core/fsutil.h"
#include "experiments/report/html_report.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
int sh(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
std::string chromium() {
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(c)) return c;
  return "";
}
// Loads the page headless; returns the DOM after its scripts ran, and the browser's log in `log`.
std::string load_in_chromium(const std::string& page, const std::string& dir, std::string& log) {
  const std::string dom = dir + "/dom.html", err = dir + "/chromium.log";
  const int rc = sh(chromium() + " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=" + dir +
                    "/profile --enable-logging=stderr --v=0 --virtual-time-budget=3000 --dump-dom file://" + page +
                    " > " + dom + " 2> " + err);
  log = read_text(err);
  REQUIRE(rc == 0);
  return read_text(dom);
}
}  // namespace

TEST_CASE("base64 follows RFC 4648", "[app][report]") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foobar") == "Zm9vYmFy");
  CHECK(base64(std::string("\xff\x00\x10", 3)) == "/wAQ");
}

TEST_CASE("a report of a run, a sweep and a comparison is one self-contained page", "[app][report]") {
  const std::string dir = test::scratch_dir("report");
  const std::string bin = SCORELAB_BIN;
  std::ofstream(dir + "/t.yaml") << test::tiny_run_yaml(dir + "/runs", "t", 200);
  REQUIRE(sh("cd " + dir + " && " + bin + " train t.yaml eval.every=100 --quiet > train.txt 2>&1") == 0);
  std::ofstream(dir + "/s.yaml") << "base: t.yaml\nout_dir: sw\noverrides: [train.steps=60]\nseeds: [0, 1]\n"
                                    "grid:\n  train: {lr: [0.001, 0.003]}\n";
  REQUIRE(sh("cd " + dir + " && " + bin + " sweep s.yaml --quiet > sweep.txt 2>&1") == 0);
  std::ofstream(dir + "/c.yaml") << "source: runs/t/checkpoints/last.pt\nn: 200\nreference_n: 300\nout_dir: cmp\n"
                                    "samplers:\n  - {type: euler_maruyama, steps: [5, 20]}\n  - {type: ode, method: heun, steps: [3, 10]}\n";
  REQUIRE(sh("cd " + dir + " && " + bin + " compare c.yaml --quiet > compare.txt 2>&1") == 0);

  struct Expect {
    std::string dir;
    size_t images;
    std::vector<std::string> text;
  };
  const std::vector<Expect> cases{
      {dir + "/runs/t", 4, {"run t", "sliced_w2", "loss_q0", "LibTorch", "Resolved config", "eight_gaussians"}},
      {dir + "/sw", 4, {"points", "train.lr", "sliced_w2_mean", "sliced_w2_sd", "lr-0.003_seed-1"}},
      {dir + "/cmp", 2, {"sliced_w2_se", "nfe_group", "euler_maruyama", "heun", "samplers:"}}};
  for (const auto& c : cases) {
    INFO(c.dir);
    REQUIRE(sh("cd " + dir + " && " + bin + " report " + c.dir + " > report.txt 2>&1") == 0);
    const std::string page = c.dir + "/report.html";
    const std::string html = read_text(page);
    CHECK(count(html, "src=\"data:image/png;base64,") == c.images);  // final, loss, metrics, the last step
    for (const auto& t : c.text) CHECK_THAT(html, Contains(t));
    // Nothing outside the page: no http(s) or file references, no external scripts or styles.
    CHECK_FALSE(std::regex_search(html, std::regex("(src|href)=\"(https?:|file:|//)")));
    if (chromium().empty()) {
      WARN("chromium not installed: the page was not loaded in a browser");
      continue;
    }
    std::string log;
    const std::string dom = load_in_chromium(page, dir, log);
    CHECK_THAT(dom, Contains("data-ready=\"1\""));
    CHECK_THAT(dom, Contains("data-images=\"" + std::to_string(c.images) + "\""));
    CHECK_FALSE(std::regex_search(log, std::regex("CONSOLE.*(Error|Uncaught)|Uncaught ")));
  }
  // An explicit -o is never replaced without --force; a directory of nothing is refused.
  std::ofstream(dir + "/keep.html") << "keep me";
  CHECK(sh("cd " + dir + " && " + bin + " report runs/t -o keep.html > r1.txt 2>&1") == 2);
  CHECK(read_text(dir + "/keep.html") == "keep me");
  CHECK(sh("cd " + dir + " && " + bin + " report runs/t -o keep.html --force > r2.txt 2>&1") == 0);
  fs::create_directories(dir + "/empty");
  CHECK(sh("cd " + dir + " && " + bin + " report empty > r3.txt 2>&1") == 2);
  CHECK_THAT(read_text(dir + "/r3.txt"), Contains("not a run, sweep or compare directory"));
}
