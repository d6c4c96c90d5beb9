// Every scorelab command shown in README.md and docs/*.md (inside ``` blocks) is run by this
// test with --check, in a directory holding the repository's experiments/ and a short
// quickstart run (for the commands that use its checkpoint): the config, the overrides, the
// files and the sampler switches must be valid as written, so the docs cannot drift from the
// code. A command the docs show failing (its next line is a comment with "error:") must exit 2.
// Commands whose input file is a placeholder that exists nowhere (my_sweep.yaml) are listed
// and skipped.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/fsutil.h"
#include "../test_util.h"

using namespace scorelab;
namespace fs = std::filesystem;

namespace {

struct DocCommand {
  std::string where;  // file:line
  std::string args;   // after `scorelab`
  bool expect_error = false;
};

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::vector<DocCommand> extract(const std::string& path, const std::string& name) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::vector<DocCommand> out;
  bool fence = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    if (t.rfind("```", 0) == 0) {
      fence = !fence;
      continue;
    }
    if (!fence) {
      // Inline code spans that are whole commands: `scorelab <command> <input> ...` (a bare
      // `scorelab sample` is a mention, and a span with "..." a pattern, not a command).
      for (size_t a = lines[i].find('`'); a != std::string::npos; a = lines[i].find('`', a + 1)) {
        const size_t b = lines[i].find('`', a + 1);
        if (b == std::string::npos) break;
        std::string span = lines[i].substr(a + 1, b - a - 1);
        a = b;
        for (const char* prefix : {"./build/scorelab ", "scorelab "})
          if (span.rfind(prefix, 0) == 0) {
            span = trim(span.substr(std::string(prefix).size()));
            if (span.find(' ') != std::string::npos && span.find("...") == std::string::npos &&
                span.find("\u2026") == std::string::npos && span.find('<') == std::string::npos)
              out.push_back({name + ":" + std::to_string(i + 1), span, false});
            break;
          }
      }
      continue;
    }
    std::string cmd;
    for (const char* prefix : {"./build/scorelab ", "scorelab "})
      if (t.rfind(prefix, 0) == 0) cmd = t.substr(std::string(prefix).size());
    if (cmd.empty()) continue;
    // The command alone: no trailing comment, redirection or pipe.
    for (const char* cut : {" #", " |", " >", " 2>"}) {
      const size_t at = cmd.find(cut);
      if (at != std::string::npos) cmd = cmd.substr(0, at);
    }
    DocCommand c{name + ":" + std::to_string(i + 1), trim(cmd), false};
    for (size_t j = i + 1; j < lines.size() && trim(lines[j]).rfind("#", 0) == 0; ++j)
      if (lines[j].find("error:") != std::string::npos) c.expect_error = true;
    out.push_back(c);
  }
  return out;
}

}  // namespace

TEST_CASE("every scorelab command in the README and docs/ is valid as written", "[app][docs]") {
  const std::string src = SCORELAB_SOURCE_DIR;
  std::vector<DocCommand> commands = extract(src + "/README.md", "README.md");
  for (const auto& e : fs::directory_iterator(src + "/docs"))
    if (e.path().extension() == ".md")
      for (const auto& c : extract(e.path().string(), "docs/" + e.path().filename().string())) commands.push_back(c);
  const std::string dir = test::scratch_dir("docs_commands");
  fs::create_directories(dir + "/experiments");
  fs::copy(src + "/experiments/configs", dir + "/experiments/configs", fs::copy_options::recursive);
  // A short quickstart run: the tour's sample / likelihood commands use its checkpoint.
  REQUIRE(std::system(("cd " + dir + " && " + SCORELAB_BIN +
                       " train experiments/configs/quickstart.yaml train.steps=20 train.log_every=10 "
                       "train.ckpt_every=10 sample.n=50 eval.n=50 --quiet > quickstart.txt 2>&1")
                          .c_str()) == 0);
  int checked = 0;
  std::vector<std::string> skipped;
  for (size_t i = 0; i < commands.size(); ++i) {
    const DocCommand& c = commands[i];
    std::istringstream words(c.args);
    std::string sub, input;
    words >> sub >> input;
    const bool global = sub.rfind("-", 0) == 0;  // --version, --help
    if (!global && !input.empty() && input[0] != '-' && !fs::exists(dir + "/" + input) && !fs::exists(input)) {
      skipped.push_back(c.where + " (" + input + ")");
      continue;
    }
    const std::string out = dir + "/cmd" + std::to_string(i) + ".txt";
    const std::string line = "cd " + dir + " && " + SCORELAB_BIN + " " + c.args + (global || c.args.find("--check") != std::string::npos ? "" : " --check") + " > " +
                             out + " 2>&1";
    const int status = std::system(line.c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    INFO(c.where << ": scorelab " << c.args << "\n" << read_text(out));
    CHECK(code == (c.expect_error ? 2 : 0));
    if (!global && !c.expect_error) CHECK_THAT(read_text(out), Catch::Contains("ok: "));
    ++checked;
  }
  std::cout << "docs commands: " << checked << " checked, " << skipped.size() << " skipped (placeholder inputs):";
  for (const auto& s : skipped) std::cout << " " << s;
  std::cout << "\n";
  CHECK(checked >= 12);
}
