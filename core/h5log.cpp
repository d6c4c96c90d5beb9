#include "core/h5log.h"

#include <algorithm>
#include <cmath>

#include <H5Cpp.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include <ATen/ATen.h>

#include "core/error.h"
#include "core/fsutil.h"

namespace scorelab {
namespace {

// HDF5's C++ API throws H5::Exception; every call goes through here to say what failed, in
// scorelab's own words, without HDF5's diagnostic stack on stderr.
template <class F>
auto h5(const std::string& what, F&& f) -> decltype(f()) {
  static thread_local const bool quiet = [] {  // per thread: HDF5 keeps error stacks per thread
    H5::Exception::dontPrint();
    return true;
  }();
  (void)quiet;
  try {
    return f();
  } catch (const H5::Exception& e) {
    throw std::runtime_error("HDF5: " + what + " failed (" + e.getDetailMsg() + ")");
  }
}

H5::FileAccPropList latest_fapl() {
  H5::FileAccPropList fapl;
  fapl.setLibverBounds(H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  return fapl;
}

H5::StrType utf8_string() {
  H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
  t.setCset(H5T_CSET_UTF8);
  return t;
}

void set_string_attr(const H5::H5Object& obj, const std::string& name, const std::string& value) {
  h5("write attribute " + name, [&] {
    if (obj.attrExists(name)) obj.removeAttr(name);
    H5::StrType type = utf8_string();
    obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, H5std_string(value));
  });
}

void set_double_attr(const H5::H5Object& obj, const std::string& name, double value) {
  h5("write attribute " + name, [&] {
    if (obj.attrExists(name)) obj.removeAttr(name);
    obj.createAttribute(name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_DOUBLE, &value);
  });
}

// An attribute as text: strings as stored, numbers in std::to_string's format.
std::string attr_text(const H5::Attribute& a) {
  if (a.getTypeClass() == H5T_STRING) {
    H5std_string s;
    a.read(a.getStrType(), s);
    return s;
  }
  double d = 0;
  a.read(H5::PredType::NATIVE_DOUBLE, &d);
  return std::to_string(d);
}

// Creates the groups on the way to `path` ("a/b/c" needs "a" and "a/b").
void ensure_parents(H5::Group& root, const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string g = path.substr(0, slash);
    if (!root.nameExists(g)) root.createGroup(g);
  }
}

hsize_t extent(const H5::DataSet& ds) {
  hsize_t n = 0;
  ds.getSpace().getSimpleExtentDims(&n);
  return n;
}

void set_extent(const H5::DataSet& ds, hsize_t n, const std::string& what) {
  if (H5Dset_extent(ds.getId(), &n) < 0) throw std::runtime_error("HDF5: set the extent of " + what + " failed");
}

void write_array_to(H5::Group& root, const std::string& name, const at::Tensor& data, const AttrMap& attrs,
                    const NumAttrMap& num_attrs) {
  at::Tensor t = data.detach().to(at::kCPU).contiguous();
  // float64 and int64 (labels) as they are; every other type as float32.
  const bool dbl = t.scalar_type() == at::kDouble, i64 = t.scalar_type() == at::kLong;
  if (!dbl && !i64) t = t.to(at::kFloat);
  std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
  h5("write " + name, [&] {
    ensure_parents(root, name);
    if (root.nameExists(name)) root.unlink(name);
    H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
    const H5::PredType& file_type = dbl ? H5::PredType::IEEE_F64LE : i64 ? H5::PredType::STD_I64LE : H5::PredType::IEEE_F32LE;
    const H5::PredType& mem_type = dbl ? H5::PredType::NATIVE_DOUBLE : i64 ? H5::PredType::NATIVE_INT64 : H5::PredType::NATIVE_FLOAT;
    H5::DataSet ds = root.createDataSet(name, file_type, space);
    ds.write(t.data_ptr(), mem_type);
    for (const auto& [k, v] : attrs) set_string_attr(ds, k, v);
    for (const auto& [k, v] : num_attrs) set_double_attr(ds, k, v);
  });
}

// Cuts every column of table group `g` back to the rows with step <= max_step.
void truncate_table(const H5::Group& g, int64_t max_step) {
  H5::DataSet sds = g.openDataSet("step");
  std::vector<int64_t> steps(extent(sds));
  if (!steps.empty()) sds.read(steps.data(), H5::PredType::NATIVE_INT64);
  hsize_t keep = 0;
  while (keep < steps.size() && steps[keep] <= max_step) ++keep;
  for (hsize_t i = 0; i < g.getNumObjs(); ++i) {
    std::string c = g.getObjnameByIdx(i);
    if (g.childObjType(c) != H5O_TYPE_DATASET) continue;
    H5::DataSet ds = g.openDataSet(c);
    if (extent(ds) > keep) set_extent(ds, keep, c);
  }
}

// Clears the "open for writing" marks a killed writer leaves in the superblock (what HDF5's
// h5clear tool does, through the same file-access property), so the file opens again.
void clear_status_flags(const std::string& file) {
  H5::FileAccPropList fapl = latest_fapl();
  hbool_t clear = true;
  if (H5Pset(fapl.getId(), "clear_status_flags", &clear) < 0) throw std::runtime_error("HDF5: clear the status of " + file + " failed");
  H5::H5File(file, H5F_ACC_RDWR, H5::FileCreatPropList::DEFAULT, fapl).close();
}

// Opens a log to read it: a closed one, one whose writer is running or was killed in SWMR mode,
// and (`repair`) one whose writer was killed outside SWMR mode (its status marks cleared first).
H5::H5File open_for_reading(const std::string& file, bool repair = false) {
  return h5("open " + file, [&] {
    auto attempt = [&]() -> std::optional<H5::H5File> {
      try {
        return H5::H5File(file, H5F_ACC_RDONLY);
      } catch (const H5::Exception&) {
      }
      try {  // a log whose writer is running (or was killed)
        return H5::H5File(file, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ);
      } catch (const H5::Exception&) {
        if (!repair) throw;
      }
      return std::nullopt;
    };
    if (auto f = attempt()) return std::move(*f);
    clear_status_flags(file);
    return H5::H5File(file, H5F_ACC_RDONLY);
  });
}

}  // namespace

RunLog::RunLog() = default;

std::unique_ptr<RunLog> RunLog::create(const std::string& path, const AttrMap& root_attrs) {
  std::unique_ptr<RunLog> log(new RunLog());
  log->path_ = path;
  log->guarded([&] {
    log->open(log->staging_path(), H5F_ACC_TRUNC, false);
    for (const auto& [k, v] : root_attrs) set_string_attr(*log->file_, k, v);
  });
  return log;
}

std::unique_ptr<RunLog> RunLog::resume(const std::string& path, int64_t max_step, const AttrMap& root_attrs) {
  namespace fs = std::filesystem;
  if (!fs::exists(path)) return create(path, root_attrs);
  std::unique_ptr<RunLog> log(new RunLog());
  log->path_ = path;
  const std::string tmp = log->staging_path();
  log->staging_ = true;  // a failure from here on removes the staged copy
  log->guarded([&] {
    // A byte copy (H5Ocopy crashes in HDF5 1.10 when a write fails, e.g. on a full disk), opened
    // with the status marks of a killed writer cleared: it is our copy.
    fs::copy_file(path, tmp, fs::copy_options::overwrite_existing);
    H5::FileAccPropList fapl = latest_fapl();
    hbool_t clear = true;
    H5Pset(fapl.getId(), "clear_status_flags", &clear);
    log->file_ = std::make_unique<H5::H5File>(tmp, H5F_ACC_RDWR, H5::FileCreatPropList::DEFAULT, fapl);
    for (const auto& [k, v] : root_attrs) set_string_attr(*log->file_, k, v);
    for (hsize_t i = 0; i < log->file_->getNumObjs(); ++i) {
      const std::string n = log->file_->getObjnameByIdx(i);
      if (log->file_->childObjType(n) == H5O_TYPE_GROUP && log->file_->nameExists(n + "/step"))
        truncate_table(log->file_->openGroup(n), max_step);
    }
  });
  return log;
}

void RunLog::guarded(const std::function<void()>& write) {
  try {
    h5("write " + path_, write);
  } catch (const std::exception& e) {
    abandon();
    std::error_code ec;
    std::filesystem::remove(staging_path(), ec);
    throw StorageError(storage_message(path_, e.what()));
  }
}

void RunLog::abandon() {
  try {
    for (auto& [g, t] : tables_)
      for (auto& ds : t.datasets) ds.close();
    if (file_) file_->close();
  } catch (...) {
  }
  file_.reset();
  if (staging_) {
    std::error_code ec;
    std::filesystem::remove(staging_path(), ec);
  }
  staging_ = swmr_ = false;
}

RunLog::~RunLog() {
  try {
    close();
  } catch (...) {
  }
}

void RunLog::open(const std::string& file, unsigned flags, bool swmr) {
  for (auto& [g, t] : tables_)
    for (auto& ds : t.datasets) ds.close();
  file_.reset();
  file_ = h5("open " + file, [&] {
    return std::make_unique<H5::H5File>(file, flags | (swmr ? H5F_ACC_SWMR_WRITE : 0u), H5::FileCreatPropList::DEFAULT,
                                        latest_fapl());
  });
  swmr_ = swmr;
  staging_ = !swmr;
  for (auto& entry : tables_) {  // (no structured bindings: lambdas cannot capture them in C++17)
    const std::string& g = entry.first;
    Table& t = entry.second;
    for (size_t i = 0; i < t.columns.size(); ++i)
      t.datasets[i] = h5("open " + g, [&] { return file_->openDataSet(g + "/" + t.columns[i]); });
  }
}

void RunLog::publish(bool keep_open) {
  guarded([&] {
    write_pending();
    for (auto& [g, t] : tables_)
      for (auto& ds : t.datasets) ds.close();
    file_->close();
    file_.reset();
    std::filesystem::rename(staging_path(), path_);
    staging_ = false;
  });
  if (keep_open) guarded([&] { open(path_, H5F_ACC_RDWR, /*swmr=*/true); });
}

void RunLog::declare_table(const std::string& group, const std::vector<std::string>& columns) {
  if (swmr_) throw std::logic_error("RunLog: declare_table after start_swmr");
  Table t;
  t.columns = columns;
  h5("declare table " + group, [&] {
    if (!file_->nameExists(group)) {
      ensure_parents(*file_, group);
      file_->createGroup(group);
    }
    H5::Group g = file_->openGroup(group);
    std::string names;
    for (const auto& c : columns) names += (names.empty() ? "" : ",") + c;
    set_string_attr(g, "columns", names);  // the table's column order (HDF5 lists names sorted)
    for (const auto& c : columns) {
      if (g.nameExists(c)) {
        t.datasets.push_back(g.openDataSet(c));
        continue;
      }
      hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = 256;
      H5::DSetCreatPropList dcpl;
      dcpl.setChunk(1, &chunk);
      t.datasets.push_back(g.createDataSet(c, c == "step" ? H5::PredType::STD_I64LE : H5::PredType::IEEE_F64LE,
                                           H5::DataSpace(1, &dims, &maxdims), dcpl));
    }
  });
  // A column new to an existing table (a log written by an older version, resumed) starts with
  // NaN for the rows already there, so every column keeps the table's length.
  hsize_t rows = 0;
  for (const auto& ds : t.datasets) rows = std::max(rows, extent(ds));
  for (size_t c = 0; c < t.datasets.size(); ++c) {
    const hsize_t have = extent(t.datasets[c]);
    if (have == rows || t.columns[c] == "step") continue;
    const std::string what = group + "/" + t.columns[c];
    set_extent(t.datasets[c], rows, what);
    h5("pad " + what, [&] {
      const hsize_t n = rows - have;
      H5::DataSpace fspace = t.datasets[c].getSpace();
      fspace.selectHyperslab(H5S_SELECT_SET, &n, &have);
      H5::DataSpace mspace(1, &n);
      std::vector<double> nan(n, std::nan(""));
      t.datasets[c].write(nan.data(), H5::PredType::NATIVE_DOUBLE, mspace, fspace);
    });
  }
  tables_[group] = std::move(t);
}

void RunLog::start_swmr() {
  if (staging_) publish(/*keep_open=*/true);
}

void RunLog::append_row(const std::string& group, const std::vector<double>& row) {
  auto it = tables_.find(group);
  if (it == tables_.end()) throw std::logic_error("RunLog: table '" + group + "' was not declared");
  if (row.size() != it->second.columns.size())
    throw std::logic_error("RunLog: table '" + group + "' has " + std::to_string(it->second.columns.size()) +
                           " columns, got a row of " + std::to_string(row.size()));
  it->second.pending.push_back(row);
}

void RunLog::flush() {
  if (!file_) return;
  if (staging_) {
    publish(/*keep_open=*/true);
    return;
  }
  guarded([&] {
    write_pending();
    file_->flush(H5F_SCOPE_GLOBAL);
  });
}

void RunLog::write_pending() {
  for (auto& entry : tables_) {
    const std::string& g = entry.first;
    Table& t = entry.second;
    if (t.pending.empty()) continue;
    const hsize_t n = t.pending.size();
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const H5::DataSet& ds = t.datasets[c];
      const std::string what = g + "/" + t.columns[c];
      hsize_t old = extent(ds);
      set_extent(ds, old + n, what);
      h5("append to " + what, [&] {
        H5::DataSpace fspace = ds.getSpace();
        fspace.selectHyperslab(H5S_SELECT_SET, &n, &old);
        H5::DataSpace mspace(1, &n);
        if (t.columns[c] == "step") {
          std::vector<int64_t> v(n);
          for (hsize_t i = 0; i < n; ++i) v[i] = static_cast<int64_t>(t.pending[i][c]);
          ds.write(v.data(), H5::PredType::NATIVE_INT64, mspace, fspace);
        } else {
          std::vector<double> v(n);
          for (hsize_t i = 0; i < n; ++i) v[i] = t.pending[i][c];
          ds.write(v.data(), H5::PredType::NATIVE_DOUBLE, mspace, fspace);
        }
      });
      if (H5Dflush(ds.getId()) < 0) throw std::runtime_error("HDF5: flush " + what + " failed");
    }
    t.pending.clear();
  }
}

void RunLog::write_array(const std::string& name, const at::Tensor& data, const AttrMap& attrs,
                         const NumAttrMap& num_attrs) {
  if (!file_) throw std::logic_error("RunLog: " + path_ + " is closed (or was given up after a failed write)");
  if (!staging_) {  // HDF5 creates no object under SWMR: continue in a copy, renamed over at close
    // (buffered rows go into the copy: they are published with the array)
    guarded([&] {
      for (auto& [g, t] : tables_)
        for (auto& ds : t.datasets) ds.close();
      file_->close();
      file_.reset();
      swmr_ = false;
      staging_ = true;  // from here a failure removes the copy
      std::filesystem::copy_file(path_, staging_path(), std::filesystem::copy_options::overwrite_existing);
      open(staging_path(), H5F_ACC_RDWR, false);
    });
  }
  guarded([&] { write_array_to(*file_, name, data, attrs, num_attrs); });
}

void RunLog::close() {
  if (!file_) return;
  if (staging_) {
    publish(/*keep_open=*/false);
    return;
  }
  flush();
  for (auto& [g, t] : tables_)
    for (auto& ds : t.datasets) ds.close();
  file_.reset();
  swmr_ = false;
}

std::vector<double> RunLog::read_column(const std::string& file, const std::string& dataset) {
  H5::H5File f = open_for_reading(file);
  if (!f.nameExists(dataset)) throw std::runtime_error(file + ": no dataset " + dataset);
  return h5("read " + dataset, [&] {
    H5::DataSet ds = f.openDataSet(dataset);
    std::vector<double> v(extent(ds));
    if (!v.empty()) ds.read(v.data(), H5::PredType::NATIVE_DOUBLE);
    return v;
  });
}

std::vector<std::string> RunLog::read_strings(const std::string& file, const std::string& dataset) {
  H5::H5File f = open_for_reading(file);
  if (!f.nameExists(dataset)) throw std::runtime_error(file + ": no dataset " + dataset);
  return h5("read " + dataset, [&] {
    H5::DataSet ds = f.openDataSet(dataset);
    std::vector<char*> raw(extent(ds), nullptr);
    H5::StrType type = utf8_string();
    if (!raw.empty()) ds.read(raw.data(), type);
    std::vector<std::string> out(raw.begin(), raw.end());
    H5::DataSpace space = ds.getSpace();
#if H5_VERSION_GE(1, 12, 0)
    if (!raw.empty()) H5Treclaim(type.getId(), space.getId(), H5P_DEFAULT, raw.data());
#else
    if (!raw.empty()) H5Dvlen_reclaim(type.getId(), space.getId(), H5P_DEFAULT, raw.data());
#endif
    return out;
  });
}

std::vector<std::string> RunLog::read_table_columns(const std::string& file, const std::string& group) {
  const std::string attr = read_attr(file, group, "columns");
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t comma; (comma = attr.find(',', at)) != std::string::npos; at = comma + 1) out.push_back(attr.substr(at, comma - at));
  out.push_back(attr.substr(at));
  return out;
}

std::string RunLog::read_attr(const std::string& file, const std::string& object, const std::string& name) {
  H5::H5File f = open_for_reading(file);
  auto read = [&](const H5::H5Object& o) {
    if (!o.attrExists(name)) throw std::runtime_error(file + ": no attribute " + object + "@" + name);
    return h5("read " + object + "@" + name, [&] { return attr_text(o.openAttribute(name)); });
  };
  if (object.empty() || object == "/") return read(f);
  if (!f.nameExists(object)) throw std::runtime_error(file + ": no attribute " + object + "@" + name);
  if (f.childObjType(object) == H5O_TYPE_GROUP) return read(f.openGroup(object));
  return read(f.openDataSet(object));
}

at::Tensor RunLog::read_array(const std::string& file, const std::string& dataset) {
  H5::H5File f = open_for_reading(file);
  if (!f.nameExists(dataset)) throw std::runtime_error(file + ": no dataset " + dataset);
  return h5("read " + dataset, [&] {
    H5::DataSet ds = f.openDataSet(dataset);
    H5::DataSpace space = ds.getSpace();
    std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
    space.getSimpleExtentDims(dims.data());
    at::Tensor out = at::empty(std::vector<int64_t>(dims.begin(), dims.end()), at::kDouble);
    ds.read(out.data_ptr(), H5::PredType::NATIVE_DOUBLE);
    return out;
  });
}

// A TableFile is built in memory (HDF5's core driver, no backing file) and written out by
// atomic_publish at commit: HDF5 never writes to disk itself, so a full disk is a clean
// StorageError from the publish (HDF5 1.10 crashes closing a file whose writes failed).
TableFile::TableFile(std::string path, const AttrMap& root_attrs) : path_(std::move(path)) {
  file_ = h5("create " + path_ + " in memory", [&] {
    H5::FileAccPropList fapl;
    fapl.setCore(1 << 20, /*backing_store=*/false);
    return std::make_unique<H5::H5File>(path_, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, fapl);
  });
  for (const auto& [k, v] : root_attrs) set_string_attr(*file_, k, v);
}

TableFile::~TableFile() { file_.reset(); }

void TableFile::table(const std::string& group, const std::vector<TableColumn>& columns) {
  if (!file_) throw std::logic_error("TableFile: " + path_ + " is closed");
  h5("write table " + group, [&] {
    ensure_parents(*file_, group);
    H5::Group g = file_->createGroup(group);
    std::string names;
    for (const auto& c : columns) {
      names += (names.empty() ? "" : ",") + c.name;
      hsize_t n = c.text.empty() ? c.numbers.size() : c.text.size();
      H5::DataSpace space(1, &n);
      if (!c.text.empty()) {
        H5::StrType type = utf8_string();
        std::vector<const char*> p;
        for (const auto& s : c.text) p.push_back(s.c_str());
        g.createDataSet(c.name, type, space).write(p.data(), type);
      } else {
        g.createDataSet(c.name, H5::PredType::IEEE_F64LE, space).write(c.numbers.data(), H5::PredType::NATIVE_DOUBLE);
      }
    }
    set_string_attr(g, "columns", names);
  });
}

void TableFile::array(const std::string& name, const at::Tensor& data, const AttrMap& attrs,
                      const NumAttrMap& num_attrs) {
  if (!file_) throw std::logic_error("TableFile: " + path_ + " is closed");
  write_array_to(*file_, name, data, attrs, num_attrs);
}

void TableFile::commit() {
  if (!file_) throw std::logic_error("TableFile: " + path_ + " is closed");
  std::vector<char> image = h5("write " + path_, [&] {
    file_->flush(H5F_SCOPE_GLOBAL);
    const ssize_t n = H5Fget_file_image(file_->getId(), nullptr, 0);
    if (n < 0) throw std::runtime_error("HDF5: no file image of " + path_);
    std::vector<char> bytes(static_cast<size_t>(n));
    if (H5Fget_file_image(file_->getId(), bytes.data(), bytes.size()) != n)
      throw std::runtime_error("HDF5: file image of " + path_ + " is short");
    return bytes;
  });
  file_.reset();
  atomic_publish(path_, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  });
}

void write_h5_file(const std::string& path, const std::string& name, const at::Tensor& data, const AttrMap& attrs,
                   const NumAttrMap& num_attrs) {
  // Built in memory and published with checked writes (TableFile): a full disk is a clean
  // StorageError. Writing through HDF5's file driver instead crashed on a failed write.
  TableFile f(path);
  f.array(name, data, attrs, num_attrs);
  f.commit();
}

}  // namespace scorelab
