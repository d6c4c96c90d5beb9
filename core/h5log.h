// HDF5 output through HDF5's C++ API (RAII handles: no path, an exception included, leaves a
// handle open). Two kinds of file:
//
// RunLog — the training log (runs/<name>/log.h5; schema in docs/log_schema.md). Tables are
// groups of equal-length, chunked, extendible 1-D datasets ("/train/step", "/train/loss", ...),
// appended in blocks and flushed at each log interval. After the tables are declared the file
// switches to HDF5's single-writer/multiple-reader mode, so h5py can read it (swmr=True) while
// training runs, and it stays consistent if the writer is killed.
//
// TableFile — a result written once (a comparison, a sweep summary): typed columns (numbers as
// float64, text as UTF-8 strings) and arrays, built in a temporary file and renamed into place.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace H5 {
class H5File;
class DataSet;
}  // namespace H5

namespace scorelab {

using AttrMap = std::map<std::string, std::string>;
using NumAttrMap = std::map<std::string, double>;

class RunLog {
 public:
  // A new log at `path` (replacing none: the caller decides), with string attributes on "/".
  static std::unique_ptr<RunLog> create(const std::string& path, const AttrMap& root_attrs);
  // Continues the log of an interrupted run: rows with step > max_step (written after the
  // checkpoint being resumed) are dropped; everything else is kept. Works on a log whose writer
  // was killed. The file is rebuilt beside the old one and renamed over it.
  static std::unique_ptr<RunLog> resume(const std::string& path, int64_t max_step, const AttrMap& root_attrs);

  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // Declares (or re-opens) table `group` with these columns; "step" is stored as int64,
  // every other column as float64. Must precede start_swmr().
  void declare_table(const std::string& group, const std::vector<std::string>& columns);
  void start_swmr();
  void append_row(const std::string& group, const std::vector<double>& row);
  void flush();  // writes buffered rows and flushes them to disk

  // A whole array (samples, a trajectory): float tensors are stored as float32/float64.
  // Leaves SWMR mode if needed (HDF5 cannot create objects under SWMR).
  void write_array(const std::string& name, const at::Tensor& data, const AttrMap& attrs = {},
                   const NumAttrMap& num_attrs = {});
  void close();

  // Reading back (tests, sweep summaries).
  static std::vector<double> read_column(const std::string& file, const std::string& dataset);
  static std::string read_attr(const std::string& file, const std::string& object, const std::string& name);
  static at::Tensor read_array(const std::string& file, const std::string& dataset);
  static std::vector<std::string> read_strings(const std::string& file, const std::string& dataset);

 private:
  RunLog();
  struct Table {
    std::vector<std::string> columns;
    std::vector<H5::DataSet> datasets;
    std::vector<std::vector<double>> pending;  // buffered rows
  };
  void reopen(bool swmr);
  std::string path_;
  std::unique_ptr<H5::H5File> file_;
  bool swmr_ = false;
  std::map<std::string, Table> tables_;
};

// One column of a TableFile: numbers or text (exactly one of them filled).
struct TableColumn {
  std::string name;
  std::vector<double> numbers;
  std::vector<std::string> text;
  static TableColumn of(std::string name, std::vector<double> v) { return {std::move(name), std::move(v), {}}; }
  static TableColumn of(std::string name, std::vector<std::string> v) { return {std::move(name), {}, std::move(v)}; }
};

class TableFile {
 public:
  explicit TableFile(std::string path, const AttrMap& root_attrs = {});  // writes to path + ".tmp"
  ~TableFile();  // without commit(): the temporary file is removed
  // Group `group` with one dataset per column (equal lengths) and group@columns = "a,b,...":
  //   pd.DataFrame({c: f[group][c][:] for c in f[group].attrs["columns"].split(",")})
  void table(const std::string& group, const std::vector<TableColumn>& columns);
  void array(const std::string& name, const at::Tensor& data, const AttrMap& attrs = {},
             const NumAttrMap& num_attrs = {});
  void commit();  // closes the file and renames it over `path`

 private:
  std::string path_;
  std::unique_ptr<H5::H5File> file_;
};

// Writes `data` (float tensor, any shape) to a new HDF5 file `path` as dataset `name`, atomically.
void write_h5_file(const std::string& path, const std::string& name, const at::Tensor& data,
                   const AttrMap& attrs = {}, const NumAttrMap& num_attrs = {});

}  // namespace scorelab
