// Readers for image data sets in their standard formats. Every error — missing file, wrong
// magic number, truncated or oversized file, inconsistent shapes — is a DataError naming the
// file and what is wrong; nothing is silently padded or cut.
//   IDX (MNIST, Fashion-MNIST; LeCun et al.): big-endian magic 0x00000803 (ubyte, 3 dims)
//     for images, 0x00000801 for labels, then the dims, then the bytes; read through zlib, so
//     .gz and plain files both work.
//   CIFAR-10 binary batches: records of 1 label byte + 3072 bytes (3x32x32, channel-major).
//   HDF5: any uint8 or float images dataset with layout NCHW, NHWC or NHW.
#pragma once
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace scorelab {

struct ImageArray {
  at::Tensor images;  // uint8 [N, C, H, W] (or float32 from HDF5 float data, in [0, 1])
  at::Tensor labels;  // int64 [N], or undefined
};

// Labels are class indices 0..kMaxClasses-1 (the Fréchet-distance classifier has one output per
// class up to the largest label, so a stray huge label would silently build a huge classifier).
constexpr int64_t kMaxClasses = 10000;

at::Tensor read_idx(const std::string& path, int expected_dims);  // uint8 tensor of the file's dims
// The dimensions a file declares, read from its header only (RunSpec validation reads no data).
std::vector<int64_t> peek_idx_dims(const std::string& path, int expected_dims);
std::vector<int64_t> peek_hdf5_dims(const std::string& path, const std::string& dataset);
ImageArray read_idx_pair(const std::string& images_path, const std::string& labels_path);
ImageArray read_cifar10(const std::vector<std::string>& batch_files);
ImageArray read_hdf5_images(const std::string& path, const std::string& dataset, const std::string& layout,
                            const std::string& labels_dataset);

// Writes a uint8 tensor as an IDX file, gzip-compressed when the path ends in .gz (tests, tools).
void write_idx(const std::string& path, const at::Tensor& data);

}  // namespace scorelab
