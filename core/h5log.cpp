#include "core/h5log.h"

#include <filesystem>
#include <stdexcept>

#include <ATen/ATen.h>

#include "core/fsutil.h"

namespace scorelab {
namespace {

void check(herr_t rc, const std::string& what) {
  if (rc < 0) throw std::runtime_error("HDF5: " + what + " failed");
}
hid_t check_id(hid_t id, const std::string& what) {
  if (id < 0) throw std::runtime_error("HDF5: " + what + " failed");
  return id;
}

hid_t latest_fapl() {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  check(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), "set_libver_bounds");
  return fapl;
}

void set_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t space = H5Screate(H5S_SCALAR);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  hid_t attr = check_id(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "attr " + name);
  const char* s = value.c_str();
  check(H5Awrite(attr, type, &s), "write attr " + name);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

// Reads a variable-length UTF-8 string attribute.
std::string read_string_attr(hid_t attr) {
  hid_t mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, H5T_VARIABLE);
  H5Tset_cset(mem, H5T_CSET_UTF8);
  char* str = nullptr;
  H5Aread(attr, mem, &str);
  std::string out = str ? str : "";
  H5free_memory(str);
  H5Tclose(mem);
  return out;
}

void set_double_attr(hid_t obj, const std::string& name, double value) {
  hid_t space = H5Screate(H5S_SCALAR);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  hid_t attr = check_id(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT), name);
  check(H5Awrite(attr, H5T_NATIVE_DOUBLE, &value), "write attr " + name);
  H5Aclose(attr);
  H5Sclose(space);
}

hid_t ensure_group(hid_t file, const std::string& group) {
  if (H5Lexists(file, group.c_str(), H5P_DEFAULT) > 0) return check_id(H5Gopen2(file, group.c_str(), H5P_DEFAULT), group);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = check_id(H5Gcreate2(file, group.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT), "create group " + group);
  H5Pclose(lcpl);
  return g;
}

hsize_t extent(hid_t ds) {
  hid_t space = H5Dget_space(ds);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(space, &n, nullptr);
  H5Sclose(space);
  return n;
}

void write_array_to(hid_t file, const std::string& name, const at::Tensor& data, const AttrMap& attrs,
                    const std::map<std::string, double>& num_attrs) {
  at::Tensor t = data.detach().to(at::kCPU).contiguous();
  bool dbl = t.scalar_type() == at::kDouble;
  if (!dbl) t = t.to(at::kFloat);
  std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end());
  auto slash = name.rfind('/');
  if (slash != std::string::npos && slash > 0) H5Gclose(ensure_group(file, name.substr(0, slash)));
  if (H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0) check(H5Ldelete(file, name.c_str(), H5P_DEFAULT), "delete " + name);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t ds = check_id(H5Dcreate2(file, name.c_str(), dbl ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, space, H5P_DEFAULT,
                                 H5P_DEFAULT, H5P_DEFAULT),
                      "create " + name);
  check(H5Dwrite(ds, dbl ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()),
        "write " + name);
  for (const auto& [k, v] : attrs) set_string_attr(ds, k, v);
  for (const auto& [k, v] : num_attrs) set_double_attr(ds, k, v);
  H5Dclose(ds);
  H5Sclose(space);
}

// Copies the string and numeric attributes of object `name` (and of everything below it,
// for a group) from file `src` to the same path in file `dst`.
void copy_attrs_recursive(hid_t src, hid_t dst, const std::string& name) {
  hid_t so = H5Oopen(src, name.c_str(), H5P_DEFAULT);
  hid_t d_o = H5Oopen(dst, name.c_str(), H5P_DEFAULT);
  if (so < 0 || d_o < 0) throw std::runtime_error("HDF5: cannot open " + name + " to copy its attributes");
  int n_attrs = H5Aget_num_attrs(so);
  for (int i = 0; i < n_attrs; ++i) {
    hid_t a = H5Aopen_by_idx(so, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, static_cast<hsize_t>(i), H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) a = H5Aopen_by_idx(so, ".", H5_INDEX_NAME, H5_ITER_INC, static_cast<hsize_t>(i), H5P_DEFAULT, H5P_DEFAULT);
    char buf[256];
    H5Aget_name(a, sizeof buf, buf);
    hid_t type = H5Aget_type(a);
    if (H5Tget_class(type) == H5T_STRING) {
      set_string_attr(d_o, buf, read_string_attr(a));
    } else {
      double v = 0;
      H5Aread(a, H5T_NATIVE_DOUBLE, &v);
      set_double_attr(d_o, buf, v);
    }
    H5Tclose(type);
    H5Aclose(a);
  }
  if (H5Iget_type(so) == H5I_GROUP) {
    H5G_info_t info;
    H5Gget_info(so, &info);
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      char buf[256];
      H5Lget_name_by_idx(so, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT);
      copy_attrs_recursive(src, dst, name + "/" + buf);
    }
  }
  H5Oclose(so);
  H5Oclose(d_o);
}

}  // namespace

std::unique_ptr<RunLog> RunLog::create(const std::string& path, const AttrMap& root_attrs) {
  std::unique_ptr<RunLog> log(new RunLog());
  log->path_ = path;
  hid_t fapl = latest_fapl();
  log->file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  check_id(log->file_, "create " + path);
  for (const auto& [k, v] : root_attrs) set_string_attr(log->file_, k, v);
  return log;
}

std::unique_ptr<RunLog> RunLog::resume(const std::string& path, int64_t max_step, const AttrMap& root_attrs) {
  namespace fs = std::filesystem;
  if (!fs::exists(path)) return create(path, root_attrs);
  std::string tmp = path + ".resume.tmp";
  hid_t fapl = latest_fapl();
  // SWMR read opens a file whose writer died without closing it.
  hid_t old = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
  if (old < 0) old = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  check_id(old, "open " + path + " to resume it");
  hid_t neu = check_id(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "create " + tmp);
  H5Pclose(fapl);
  for (const auto& [k, v] : root_attrs) set_string_attr(neu, k, v);
  // Copy every top-level object, then cut tables back to the checkpoint's step.
  H5G_info_t info;
  H5Gget_info(old, &info);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char buf[256];
    H5Lget_name_by_idx(old, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT);
    names.emplace_back(buf);
  }
  // H5Ocopy without attributes (HDF5 1.10 crashes copying variable-length string attributes
  // kept in dense storage), then the attributes one by one.
  hid_t ocpl = H5Pcreate(H5P_OBJECT_COPY);
  H5Pset_copy_object(ocpl, H5O_COPY_WITHOUT_ATTR_FLAG);
  for (const auto& n : names) {
    check(H5Ocopy(old, n.c_str(), neu, n.c_str(), ocpl, H5P_DEFAULT), "copy " + n);
    copy_attrs_recursive(old, neu, n);
  }
  H5Pclose(ocpl);
  H5Fclose(old);
  for (const auto& n : names) {
    std::string step = n + "/step";
    if (H5Lexists(neu, step.c_str(), H5P_DEFAULT) <= 0) continue;
    hid_t g = H5Gopen2(neu, n.c_str(), H5P_DEFAULT);
    hid_t sds = H5Dopen2(g, "step", H5P_DEFAULT);
    hsize_t len = extent(sds);
    std::vector<int64_t> steps(len);
    if (len) H5Dread(sds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, steps.data());
    H5Dclose(sds);
    hsize_t keep = 0;
    while (keep < len && steps[keep] <= max_step) ++keep;
    H5G_info_t gi;
    H5Gget_info(g, &gi);
    for (hsize_t i = 0; i < gi.nlinks; ++i) {
      char buf[256];
      H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof buf, H5P_DEFAULT);
      hid_t ds = H5Dopen2(g, buf, H5P_DEFAULT);
      if (ds >= 0) {
        if (extent(ds) > keep) check(H5Dset_extent(ds, &keep), std::string("truncate ") + buf);
        H5Dclose(ds);
      }
    }
    H5Gclose(g);
  }
  H5Fclose(neu);
  fs::rename(tmp, path);
  std::unique_ptr<RunLog> log(new RunLog());
  log->path_ = path;
  log->reopen(false);
  return log;
}

RunLog::~RunLog() {
  try {
    close();
  } catch (...) {
  }
}

void RunLog::reopen(bool swmr) {
  for (auto& [g, t] : tables_)
    for (auto& ds : t.datasets) {
      if (ds >= 0) H5Dclose(ds);
      ds = -1;
    }
  if (file_ >= 0) H5Fclose(file_);
  hid_t fapl = latest_fapl();
  file_ = check_id(H5Fopen(path_.c_str(), H5F_ACC_RDWR | (swmr ? H5F_ACC_SWMR_WRITE : 0u), fapl), "open " + path_);
  H5Pclose(fapl);
  swmr_ = swmr;
  for (auto& [g, t] : tables_)
    for (size_t i = 0; i < t.columns.size(); ++i)
      t.datasets[i] = check_id(H5Dopen2(file_, (g + "/" + t.columns[i]).c_str(), H5P_DEFAULT), "open " + g);
}

void RunLog::declare_table(const std::string& group, const std::vector<std::string>& columns) {
  if (swmr_) throw std::logic_error("RunLog: declare_table after start_swmr");
  Table t;
  t.columns = columns;
  hid_t g = ensure_group(file_, group);
  std::string names;
  for (const auto& c : columns) names += (names.empty() ? "" : ",") + c;
  set_string_attr(g, "columns", names);  // the table's column order (HDF5 lists names sorted)
  for (const auto& c : columns) {
    bool is_step = c == "step";
    hid_t ds;
    if (H5Lexists(g, c.c_str(), H5P_DEFAULT) > 0) {
      ds = check_id(H5Dopen2(g, c.c_str(), H5P_DEFAULT), "open " + group + "/" + c);
    } else {
      hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = 256;
      hid_t space = H5Screate_simple(1, &dims, &maxdims);
      hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      H5Pset_chunk(dcpl, 1, &chunk);
      ds = check_id(H5Dcreate2(g, c.c_str(), is_step ? H5T_STD_I64LE : H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl,
                               H5P_DEFAULT),
                    "create " + group + "/" + c);
      H5Pclose(dcpl);
      H5Sclose(space);
    }
    t.datasets.push_back(ds);
  }
  H5Gclose(g);
  tables_[group] = std::move(t);
}

void RunLog::start_swmr() {
  if (swmr_) return;
  check(H5Fstart_swmr_write(file_), "start SWMR write on " + path_);
  swmr_ = true;
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
  if (file_ < 0) return;
  for (auto& [g, t] : tables_) {
    if (t.pending.empty()) continue;
    hsize_t n = t.pending.size();
    for (size_t c = 0; c < t.columns.size(); ++c) {
      hid_t ds = t.datasets[c];
      hsize_t old = extent(ds), total = old + n;
      check(H5Dset_extent(ds, &total), "extend " + g + "/" + t.columns[c]);
      hid_t fspace = H5Dget_space(ds);
      H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &old, nullptr, &n, nullptr);
      hid_t mspace = H5Screate_simple(1, &n, nullptr);
      if (t.columns[c] == "step") {
        std::vector<int64_t> v(n);
        for (hsize_t i = 0; i < n; ++i) v[i] = static_cast<int64_t>(t.pending[i][c]);
        check(H5Dwrite(ds, H5T_NATIVE_INT64, mspace, fspace, H5P_DEFAULT, v.data()), "write");
      } else {
        std::vector<double> v(n);
        for (hsize_t i = 0; i < n; ++i) v[i] = t.pending[i][c];
        check(H5Dwrite(ds, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, v.data()), "write");
      }
      H5Sclose(mspace);
      H5Sclose(fspace);
      check(H5Dflush(ds), "flush " + g + "/" + t.columns[c]);
    }
    t.pending.clear();
  }
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flush " + path_);
}

void RunLog::write_array(const std::string& name, const at::Tensor& data, const AttrMap& attrs,
                         const std::map<std::string, double>& num_attrs) {
  flush();
  if (swmr_) reopen(false);
  write_array_to(file_, name, data, attrs, num_attrs);
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flush " + path_);
}

void RunLog::close() {
  if (file_ < 0) return;
  flush();
  for (auto& [g, t] : tables_)
    for (auto& ds : t.datasets) {
      if (ds >= 0) H5Dclose(ds);
      ds = -1;
    }
  H5Fclose(file_);
  file_ = -1;
  swmr_ = false;
}

std::vector<double> RunLog::read_column(const std::string& file, const std::string& dataset) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) f = H5Fopen(file.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
  check_id(f, "open " + file);
  hid_t ds = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  if (ds < 0) {
    H5Fclose(f);
    throw std::runtime_error(file + ": no dataset " + dataset);
  }
  std::vector<double> v(extent(ds));
  if (!v.empty()) H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(ds);
  H5Fclose(f);
  return v;
}

std::string RunLog::read_attr(const std::string& file, const std::string& object, const std::string& name) {
  hid_t f = check_id(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + file);
  hid_t attr = H5Aopen_by_name(f, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) {
    H5Fclose(f);
    throw std::runtime_error(file + ": no attribute " + object + "@" + name);
  }
  hid_t type = H5Aget_type(attr);
  std::string out;
  if (H5Tget_class(type) == H5T_STRING) {
    out = read_string_attr(attr);
  } else {
    double d = 0;
    H5Aread(attr, H5T_NATIVE_DOUBLE, &d);
    out = std::to_string(d);
  }
  H5Tclose(type);
  H5Aclose(attr);
  H5Fclose(f);
  return out;
}

at::Tensor RunLog::read_array(const std::string& file, const std::string& dataset) {
  hid_t f = check_id(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + file);
  hid_t ds = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  if (ds < 0) {
    H5Fclose(f);
    throw std::runtime_error(file + ": no dataset " + dataset);
  }
  hid_t space = H5Dget_space(ds);
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  std::vector<int64_t> shape(dims.begin(), dims.end());
  at::Tensor out = at::empty(shape, at::kDouble);
  H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data_ptr());
  H5Sclose(space);
  H5Dclose(ds);
  H5Fclose(f);
  return out;
}

void write_h5_file(const std::string& path, const std::string& name, const at::Tensor& data, const AttrMap& attrs,
                   const std::map<std::string, double>& num_attrs) {
  atomic_publish(path, [&](const std::string& tmp) {
    hid_t f = check_id(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create " + tmp);
    try {
      write_array_to(f, name, data, attrs, num_attrs);
    } catch (...) {
      H5Fclose(f);
      throw;
    }
    H5Fclose(f);
  });
}

}  // namespace scorelab
