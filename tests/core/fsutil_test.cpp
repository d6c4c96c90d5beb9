#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "core/fsutil.h"
#include "../test_util.h"

using namespace scorelab;

TEST_CASE("CSV fields follow RFC 4180: quoted when needed, quotes doubled, read back by Python's csv",
          "[core][csv]") {
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("") == "");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
  const std::string dir = test::scratch_dir("csv");
  const std::vector<std::string> fields{"a,b", "say \"hi\"", "two\nlines", "x=1, y=\"2\"", "plain"};
  {
    std::ofstream out(dir + "/t.csv");
    for (size_t i = 0; i < fields.size(); ++i) out << (i ? "," : "") << csv_field(fields[i]);
    out << "\n";
  }
  // Python's csv module, the reader pandas and spreadsheets agree with, must give the fields back.
  const std::string script = "import csv,sys; r=list(csv.reader(open(sys.argv[1], newline=''))); "
                             "sys.exit(0 if r == [sys.argv[2:]] else 1)";
  std::string cmd = "/usr/bin/python3 -c \"" + script + "\" " + test::shell_quote(dir + "/t.csv");
  for (const auto& f : fields) {
    std::string q = "'";
    for (char c : f) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " " + q + "'";
  }
  CHECK(std::system(cmd.c_str()) == 0);
}
