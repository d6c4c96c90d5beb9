#include "experiments/data/image_io.h"

#include <H5Cpp.h>
#include <zlib.h>

#include <filesystem>

#include <ATen/ATen.h>

#include "core/error.h"
#include "core/fsutil.h"

namespace scorelab {
namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError(path + ": cannot open");
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) throw DataError(path + ": corrupt compressed data (" + msg + ")");
  return out;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

at::Tensor read_idx(const std::string& path, int expected_dims) {
  std::vector<uint8_t> b = read_all(path);
  if (b.size() < 4) throw DataError(path + ": truncated IDX file (" + std::to_string(b.size()) + " bytes)");
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != expected_dims) {
    char got[16];
    std::snprintf(got, sizeof got, "0x%08x", be32(b.data()));
    char want[16];
    std::snprintf(want, sizeof want, "0x%08x", 0x800u | static_cast<unsigned>(expected_dims));
    throw DataError(path + ": wrong magic number " + got + " (expected " + want + ": unsigned bytes, " +
                    std::to_string(expected_dims) + " dimensions)");
  }
  size_t header = 4 + 4 * static_cast<size_t>(expected_dims);
  if (b.size() < header) throw DataError(path + ": truncated IDX header");
  std::vector<int64_t> dims;
  size_t total = 1;
  for (int d = 0; d < expected_dims; ++d) {
    dims.push_back(be32(b.data() + 4 + 4 * d));
    total *= static_cast<size_t>(dims.back());
  }
  if (b.size() - header < total)
    throw DataError(path + ": truncated: the header promises " + std::to_string(total) + " bytes of data, the file has " +
                    std::to_string(b.size() - header));
  if (b.size() - header > total)
    throw DataError(path + ": " + std::to_string(b.size() - header - total) + " bytes after the data the header describes");
  at::Tensor t = at::empty(dims, at::kByte);
  std::memcpy(t.data_ptr(), b.data() + header, total);
  return t;
}

std::vector<int64_t> peek_idx_dims(const std::string& path, int expected_dims) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError(path + ": cannot open");
  uint8_t b[4 + 4 * 4] = {0};
  const int want = 4 + 4 * expected_dims;
  int n = gzread(f, b, want);
  gzclose(f);
  if (n < want) throw DataError(path + ": truncated IDX header");
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != expected_dims)
    throw DataError(path + ": not an IDX file of unsigned bytes with " + std::to_string(expected_dims) + " dimensions");
  std::vector<int64_t> dims;
  for (int d = 0; d < expected_dims; ++d) dims.push_back(be32(b + 4 + 4 * d));
  return dims;
}

ImageArray read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  ImageArray a;
  a.images = read_idx(images_path, 3).unsqueeze(1);  // [N, 1, H, W]
  if (!labels_path.empty()) {
    a.labels = read_idx(labels_path, 1).to(at::kLong);
    if (a.labels.size(0) != a.images.size(0))
      throw DataError(labels_path + ": " + std::to_string(a.labels.size(0)) + " labels for " +
                      std::to_string(a.images.size(0)) + " images in " + images_path);
  }
  return a;
}

ImageArray read_cifar10(const std::vector<std::string>& files) {
  std::vector<at::Tensor> imgs, labels;
  const size_t rec = 1 + 3072;
  for (const auto& f : files) {
    std::vector<uint8_t> b = read_all(f);
    if (b.empty() || b.size() % rec)
      throw DataError(f + ": " + std::to_string(b.size()) + " bytes is not a whole number of CIFAR-10 records (" +
                      std::to_string(rec) + " bytes each)");
    int64_t n = static_cast<int64_t>(b.size() / rec);
    at::Tensor raw = at::from_blob(b.data(), {n, static_cast<int64_t>(rec)}, at::kByte).clone();
    labels.push_back(raw.select(1, 0).to(at::kLong));
    imgs.push_back(raw.slice(1, 1).reshape({n, 3, 32, 32}));
    if (labels.back().max().item<int64_t>() > 9) throw DataError(f + ": a label above 9: not a CIFAR-10 batch");
  }
  return {at::cat(imgs), at::cat(labels)};
}

namespace {
// Opens an HDF5 file of images and one of its datasets (HDF5's C++ API: every handle closes
// itself, on errors too); dims are the dataset's dimensions.
H5::H5File open_h5(const std::string& path) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": no such file");
  H5::Exception::dontPrint();
  try {
    return H5::H5File(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception&) {
    throw DataError(path + ": not an HDF5 file");
  }
}
H5::DataSet open_dataset(const H5::H5File& f, const std::string& path, const std::string& name) {
  if (!f.nameExists(name)) throw DataError(path + ": no dataset '" + name + "'");
  return f.openDataSet(name);
}
struct H5Images {
  H5::H5File file;
  H5::DataSet ds;
  std::vector<int64_t> dims;
  H5Images(const std::string& path, const std::string& dataset)
      : file(open_h5(path)), ds(open_dataset(file, path, dataset)) {
    H5::DataSpace space = ds.getSpace();
    std::vector<hsize_t> d(static_cast<size_t>(space.getSimpleExtentNdims()));
    space.getSimpleExtentDims(d.data());
    dims.assign(d.begin(), d.end());
  }
};
ImageArray read_hdf5_unguarded(const std::string& path, const std::string& dataset, const std::string& layout,
                               const std::string& labels_dataset);

// HDF5 1.10 itself crashes on some damaged files (tests/fuzz/regressions/image_readers/
// hdf5_crashes_in_symbol_table.bin): their structure
// (the file, the datasets' headers) is read in a child process first, so such a file is
// reported instead of ending the process. The data itself is read once, by the caller.
void probe_h5(const std::string& path, const std::vector<std::string>& datasets) {
  if (!std::filesystem::exists(path)) return;  // open_h5 says so
  const int sig = crash_signal_in_child([&] {
    for (const auto& d : datasets)
      if (!d.empty()) H5Images(path, d);
  });
  if (sig)
    throw DataError(path + ": the HDF5 library crashed reading this file (signal " + std::to_string(sig) +
                    "): it is damaged; check it with h5dump, or write it again");
}

// HDF5's own exceptions (a damaged file's structure) as DataError naming the file.
template <class F>
auto h5_guard(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const H5::Exception& e) {
    throw DataError(path + ": a damaged HDF5 file (" + e.getDetailMsg() + ")");
  } catch (const c10::Error&) {  // dimensions no tensor can hold
    throw DataError(path + ": a damaged HDF5 file (its dimensions ask for more memory than there is)");
  } catch (const std::bad_alloc&) {
    throw DataError(path + ": a damaged HDF5 file (its dimensions ask for more memory than there is)");
  }
}
}  // namespace

std::vector<int64_t> peek_hdf5_dims(const std::string& path, const std::string& dataset) {
  probe_h5(path, {dataset});
  return h5_guard(path, [&] { return H5Images(path, dataset).dims; });
}

ImageArray read_hdf5_images(const std::string& path, const std::string& dataset, const std::string& layout,
                            const std::string& labels_dataset) {
  probe_h5(path, {dataset, labels_dataset});
  return h5_guard(path, [&] { return read_hdf5_unguarded(path, dataset, layout, labels_dataset); });
}

namespace {
ImageArray read_hdf5_unguarded(const std::string& path, const std::string& dataset, const std::string& layout,
                               const std::string& labels_dataset) {
  auto read = [&](const std::string& name, bool image) {
    H5Images h(path, name);
    const bool is_float = h.ds.getTypeClass() == H5T_FLOAT;
    // What the header claims, checked before anything is allocated (a damaged header can claim
    // petabytes): at most 64 GiB, which scorelab would hold in memory.
    double bytes = image ? (is_float ? 4.0 : 1.0) : 8.0;
    for (int64_t d : h.dims) bytes *= static_cast<double>(d);
    if (bytes > 68719476736.0)
      throw DataError(path + ": dataset '" + name + "' claims " + std::to_string(bytes / 1073741824.0) +
                      " GiB, more than scorelab loads into memory (64 GiB); a damaged file?");
    if (!image && (h.ds.getTypeClass() != H5T_INTEGER || h.dims.size() != 1))
      throw DataError(path + ": labels '" + name + "' must be a 1-D dataset of integers (class indices 0.." +
                      std::to_string(kMaxClasses - 1) + ")");
    at::Tensor t = at::empty(h.dims, image ? (is_float ? at::kFloat : at::kByte) : at::kLong);
    try {
      h.ds.read(t.data_ptr(), image ? (is_float ? H5::PredType::NATIVE_FLOAT : H5::PredType::NATIVE_UINT8)
                                    : H5::PredType::NATIVE_INT64);
    } catch (const H5::Exception& e) {
      throw DataError(path + ": cannot read '" + name + "' (" + e.getDetailMsg() + ")");
    }
    return t;
  };
  ImageArray a;
  a.images = read(dataset, true);
  if (a.images.is_floating_point() && !at::isfinite(a.images).all().item<bool>())
    throw DataError(path + ": dataset '" + dataset + "' holds " +
                    std::to_string((~at::isfinite(a.images)).sum().item<int64_t>()) +
                    " non-finite values (NaN or infinite); fix the data or drop those images");
  if (!labels_dataset.empty()) {
    a.labels = read(labels_dataset, false);
    const at::Tensor bad = (a.labels < 0).logical_or(a.labels >= kMaxClasses);
    if (bad.any().item<bool>()) {
      const int64_t i = bad.nonzero()[0][0].item<int64_t>();
      throw DataError(path + ": labels '" + labels_dataset + "' hold " + std::to_string(bad.sum().item<int64_t>()) +
                      " values outside 0.." + std::to_string(kMaxClasses - 1) + " (the first at index " +
                      std::to_string(i) + ": " + std::to_string(a.labels[i].item<int64_t>()) +
                      "); labels are class indices");
    }
  }
  size_t want = layout == "NHW" ? 3 : 4;
  if (static_cast<size_t>(a.images.dim()) != want)
    throw DataError(path + ": dataset '" + dataset + "' has " + std::to_string(a.images.dim()) + " dimensions; layout " +
                    layout + " needs " + std::to_string(want));
  if (layout == "NHW") a.images = a.images.unsqueeze(1);
  if (layout == "NHWC") a.images = a.images.permute({0, 3, 1, 2}).contiguous();
  if (a.labels.defined() && a.labels.size(0) != a.images.size(0))
    throw DataError(path + ": " + std::to_string(a.labels.size(0)) + " labels for " + std::to_string(a.images.size(0)) +
                    " images");
  return a;
}

}  // namespace

void write_idx(const std::string& path, const at::Tensor& data) {
  at::Tensor t = data.to(at::kByte).contiguous();
  std::vector<uint8_t> out{0, 0, 0x08, static_cast<uint8_t>(t.dim())};
  for (auto d : t.sizes())
    for (int s = 3; s >= 0; --s) out.push_back(static_cast<uint8_t>((d >> (8 * s)) & 0xFF));
  out.insert(out.end(), t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
  bool gz = path.size() > 3 && path.substr(path.size() - 3) == ".gz";
  gzFile f = gzopen(path.c_str(), gz ? "wb" : "wbT");
  if (!f) throw std::runtime_error("cannot write " + path);
  gzwrite(f, out.data(), static_cast<unsigned>(out.size()));
  gzclose(f);
}

}  // namespace scorelab
