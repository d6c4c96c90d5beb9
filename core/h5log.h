// HDF5 output through HDF5's C++ API (RAII handles: no path, an exception included, leaves a
// handle open). Two kinds of file:
//
// RunLog — the training log (runs/<name>/log.h5; schema in docs/log_schema.md). Tables are
// groups of equal-length, chunked, extendible 1-D datasets ("/train/step", "/train/loss", ...),
// appended in blocks and flushed at each log interval.
//
// A kill at any moment leaves a log.h5 that opens: the file is only ever written in HDF5's
// single-writer/multiple-reader (SWMR) mode, whose writes keep it consistent (h5py reads it with
// swmr=True while training runs). Everything SWMR cannot do — creating the file, declaring
// tables, rebuilding it for a resume, adding arrays — happens in a staging copy (log.h5.tmp)
// that is renamed over log.h5 when done (start_swmr, flush or close): until then log.h5 is the
// previous, intact version. A log left marked open by a non-SWMR writer (older versions) is
// repaired on resume, as HDF5's h5clear would.
//
// TableFile — a result written once (a comparison, a sweep summary): typed columns (numbers as
// float64, text as UTF-8 strings) and arrays, built in a temporary file and renamed into place.
#pragma once
#include <functional>
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
  // A new log for `path` (staged until start_swmr; replaces the file there then), with string
  // attributes on "/".
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
  // Publishes the staged file as `path` and continues writing it in SWMR mode.
  void start_swmr();
  void append_row(const std::string& group, const std::vector<double>& row);
  void flush();  // writes buffered rows and flushes them to disk (publishing a staged file)

  // A whole array (samples, a trajectory): float tensors are stored as float32/float64.
  // Written into a staged copy of the log, published by the next flush or close.
  void write_array(const std::string& name, const at::Tensor& data, const AttrMap& attrs = {},
                   const NumAttrMap& num_attrs = {});
  void close();

  // Reading back (tests, sweep summaries).
  static std::vector<double> read_column(const std::string& file, const std::string& dataset);
  static std::string read_attr(const std::string& file, const std::string& object, const std::string& name);
  static at::Tensor read_array(const std::string& file, const std::string& dataset);
  static std::vector<std::string> read_strings(const std::string& file, const std::string& dataset);
  // A table's column names in order (its group's "columns" attribute).
  static std::vector<std::string> read_table_columns(const std::string& file, const std::string& group);

 private:
  RunLog();
  struct Table {
    std::vector<std::string> columns;
    std::vector<H5::DataSet> datasets;
    std::vector<std::vector<double>> pending;  // buffered rows
  };
  std::string staging_path() const { return path_ + ".tmp"; }
  void open(const std::string& file, unsigned flags, bool swmr);  // re-opens the tables' datasets
  void publish(bool keep_open);  // staged file -> path_ (then open in SWMR mode if keep_open)
  void write_pending();          // buffered rows into the open file
  // Runs a write; on failure gives the log up — closes the file, removes the staged copy (the
  // published log.h5 stays as it was; later writes throw) — and throws StorageError.
  void guarded(const std::function<void()>& write);
  void abandon();
  std::string path_;
  std::unique_ptr<H5::H5File> file_;
  bool swmr_ = false;     // file_ is path_, open for SWMR writing
  bool staging_ = false;  // file_ is staging_path(), open for ordinary writing
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
