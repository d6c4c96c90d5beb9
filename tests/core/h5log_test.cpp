#include <catch2/catch.hpp>

#include <cmath>

#include <filesystem>

#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <hdf5.h>

#include "core/error.h"
#include "core/h5log.h"
#include "../test_util.h"

using namespace scorelab;

TEST_CASE("run log tables are written in blocks and read back", "[core][h5log]") {
  std::string dir = test::scratch_dir("h5log_rw");
  std::string path = dir + "/log.h5";
  {
    auto log = RunLog::create(path, {{"config", "a: 1\n"}, {"name", "demo"}});
    log->declare_table("train", {"step", "loss"});
    log->start_swmr();
    for (int i = 1; i <= 5; ++i) log->append_row("train", {10.0 * i, 1.0 / i});
    log->flush();
    // Readable (as a SWMR reader) while the writer holds it open.
    CHECK(RunLog::read_column(path, "train/step").size() == 5);
    for (int i = 6; i <= 7; ++i) log->append_row("train", {10.0 * i, 1.0 / i});
    log->write_array("samples/final", at::arange(6, at::kFloat).reshape({3, 2}), {{"type", "em"}}, {{"nfe", 42}});
  }
  auto steps = RunLog::read_column(path, "train/step");
  auto loss = RunLog::read_column(path, "train/loss");
  REQUIRE(steps.size() == 7);
  CHECK(steps[6] == 70);
  CHECK(loss[3] == 0.25);
  CHECK(RunLog::read_attr(path, "/", "name") == "demo");
  CHECK(RunLog::read_attr(path, "samples/final", "type") == "em");
  at::Tensor s = RunLog::read_array(path, "samples/final");
  CHECK(s.sizes() == at::IntArrayRef({3, 2}));
  CHECK(s[2][1].item<double>() == 5.0);
}

TEST_CASE("resuming a log drops rows written after the checkpoint", "[core][h5log]") {
  std::string dir = test::scratch_dir("h5log_resume");
  std::string path = dir + "/log.h5";
  {
    auto log = RunLog::create(path, {{"name", "r"}});
    log->declare_table("train", {"step", "loss"});
    log->start_swmr();
    for (int i = 1; i <= 6; ++i) log->append_row("train", {100.0 * i, static_cast<double>(i)});
  }
  {
    auto log = RunLog::resume(path, 300, {{"name", "r"}});
    log->declare_table("train", {"step", "loss"});
    log->start_swmr();
    log->append_row("train", {400, -4});
  }
  auto steps = RunLog::read_column(path, "train/step");
  auto loss = RunLog::read_column(path, "train/loss");
  CHECK(steps == std::vector<double>{100, 200, 300, 400});
  CHECK(loss == std::vector<double>{1, 2, 3, -4});
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  // A column the resumed run's version adds starts with NaN for the rows already written.
  {
    auto log = RunLog::resume(path, 400, {{"name", "r"}});
    log->declare_table("train", {"step", "loss", "extra"});
    log->start_swmr();
    log->append_row("train", {500, -5, 7});
  }
  auto extra = RunLog::read_column(path, "train/extra");
  REQUIRE(extra.size() == 5);
  for (int i = 0; i < 4; ++i) CHECK(std::isnan(extra[i]));
  CHECK(extra[4] == 7);
}

TEST_CASE("a standalone HDF5 array file is written atomically", "[core][h5log]") {
  std::string dir = test::scratch_dir("h5file");
  write_h5_file(dir + "/s.h5", "samples", at::ones({4, 2}, at::kDouble), {{"sampler", "x"}}, {{"seed", 3}});
  CHECK(RunLog::read_array(dir + "/s.h5", "samples").sum().item<double>() == 8.0);
  CHECK(RunLog::read_attr(dir + "/s.h5", "samples", "seed") == std::to_string(3.0));
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  CHECK(files == 1);  // no temporary left behind
}

namespace {
// Objects open in any HDF5 file of this process (files, groups, datasets, attributes, types).
ssize_t open_hdf5_objects() { return H5Fget_obj_count(static_cast<hid_t>(H5F_OBJ_ALL), H5F_OBJ_ALL); }
}  // namespace

TEST_CASE("an HDF5 write that throws leaves no handle open", "[core][h5log]") {
  std::string dir = test::scratch_dir("h5log_leak");
  const ssize_t before = open_hdf5_objects();
  {
    auto log = RunLog::create(dir + "/log.h5", {{"name", "x"}});
    log->declare_table("train", {"step", "loss"});
    log->write_array("samples/b", at::zeros({2}));
    // An attribute with an empty name fails after the dataset was created: the log is given up
    // (every handle closed, the staged copy removed, never published), later writes refused.
    CHECK_THROWS_AS(log->write_array("samples/a", at::zeros({2}), {{"", "bad"}}), StorageError);
    CHECK(open_hdf5_objects() == before);
    CHECK_FALSE(std::filesystem::exists(dir + "/log.h5.tmp"));
    CHECK_FALSE(std::filesystem::exists(dir + "/log.h5"));
    CHECK_THROWS(log->write_array("samples/c", at::zeros({2})));
  }
  {
    // The same on a published log: a dataset below a dataset fails while creating the path;
    // log.h5 keeps what was published before.
    auto log = RunLog::create(dir + "/log.h5", {{"name", "x"}});
    log->declare_table("train", {"step", "loss"});
    log->start_swmr();
    log->append_row("train", {1, 0.5});
    log->write_array("samples/b", at::zeros({2}));
    log->close();
  }
  {
    auto log = RunLog::resume(dir + "/log.h5", 10, {{"name", "x"}});
    log->declare_table("train", {"step", "loss"});
    log->start_swmr();
    CHECK_THROWS_AS(log->write_array("samples/b/c", at::zeros({2})), StorageError);
    CHECK(open_hdf5_objects() == before);
  }
  CHECK(RunLog::read_column(dir + "/log.h5", "train/step") == std::vector<double>{1});
  CHECK_THROWS(write_h5_file(dir + "/s.h5", "x", at::zeros({2}), {{"", "bad"}}));
  CHECK_FALSE(std::filesystem::exists(dir + "/s.h5"));
  CHECK_THROWS(RunLog::read_column(dir + "/log.h5", "train/nothing"));
  CHECK_THROWS(RunLog::read_attr(dir + "/log.h5", "/", "nothing"));
  CHECK(open_hdf5_objects() == before);
}

TEST_CASE("a result table has typed columns and no step column", "[core][h5log]") {
  std::string dir = test::scratch_dir("h5table");
  {
    TableFile t(dir + "/t.h5", {{"what", "demo"}});
    t.table("points", {TableColumn::of("run", std::vector<std::string>{"a", "b, \"c\""}),
                       TableColumn::of("loss", std::vector<double>{0.5, 0.25})});
    CHECK_FALSE(std::filesystem::exists(dir + "/t.h5"));  // not before commit
    t.commit();
  }
  CHECK(RunLog::read_attr(dir + "/t.h5", "points", "columns") == "run,loss");
  CHECK(RunLog::read_strings(dir + "/t.h5", "points/run") == std::vector<std::string>{"a", "b, \"c\""});
  CHECK(RunLog::read_column(dir + "/t.h5", "points/loss") == std::vector<double>{0.5, 0.25});
  CHECK_THROWS(RunLog::read_column(dir + "/t.h5", "points/step"));
  {
    TableFile t(dir + "/u.h5");  // never committed: nothing is left behind
    t.table("points", {TableColumn::of("x", std::vector<double>{1})});
  }
  CHECK_FALSE(std::filesystem::exists(dir + "/u.h5"));
  CHECK_FALSE(std::filesystem::exists(dir + "/u.h5.tmp"));
}

TEST_CASE("a log is changed only by publishing a finished copy or by SWMR writes", "[core][h5log][reliability]") {
  std::string dir = test::scratch_dir("h5log_staged");
  std::string path = dir + "/log.h5";
  {
    auto log = RunLog::create(path, {{"name", "s"}});
    log->declare_table("train", {"step", "loss"});
    CHECK_FALSE(std::filesystem::exists(path));  // staged: nothing at `path` until published
    log->start_swmr();
    for (int i = 1; i <= 4; ++i) log->append_row("train", {10.0 * i, 1.0 * i});
    log->flush();
  }
  {
    auto log = RunLog::resume(path, 20, {{"name", "s"}});
    log->declare_table("train", {"step", "loss"});
    // Until the rebuilt log is published, `path` is the old log, rows after step 20 included.
    CHECK(RunLog::read_column(path, "train/step") == std::vector<double>{10, 20, 30, 40});
    log->start_swmr();
    CHECK(RunLog::read_column(path, "train/step") == std::vector<double>{10, 20});
    log->append_row("train", {30, -3});
    log->write_array("samples/final", at::ones({2, 2}));
    // The array and the row buffered before it are published together, at close.
    CHECK(RunLog::read_column(path, "train/step") == std::vector<double>{10, 20});
    CHECK_THROWS(RunLog::read_array(path, "samples/final"));
  }
  CHECK(RunLog::read_column(path, "train/step") == std::vector<double>{10, 20, 30});
  CHECK(RunLog::read_array(path, "samples/final").sum().item<double>() == 4.0);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("a log whose writer was killed outside SWMR mode is repaired on resume", "[core][h5log][reliability]") {
  std::string dir = test::scratch_dir("h5log_repair");
  std::string path = dir + "/log.h5";
  {
    auto log = RunLog::create(path, {{"name", "r"}});
    log->declare_table("train", {"step", "loss"});
    log->start_swmr();
    for (int i = 1; i <= 3; ++i) log->append_row("train", {10.0 * i, 1.0 * i});
  }
  // What an older version left when killed: the file open for ordinary writing, never closed.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
    H5Fflush(f, H5F_SCOPE_GLOBAL);
    _exit(f >= 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK_THROWS(RunLog::read_column(path, "train/step"));  // HDF5 refuses the file as it is
  {
    auto log = RunLog::resume(path, 20, {{"name", "r"}});
    log->declare_table("train", {"step", "loss"});
    log->start_swmr();
  }
  CHECK(RunLog::read_column(path, "train/step") == std::vector<double>{10, 20});
}
