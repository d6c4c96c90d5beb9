// Schedule tables (float64, built once on the CPU) as the device and dtype of the tensors they
// meet: each copy is made once and kept, instead of a host-to-device copy (and a conversion)
// on every call — on a GPU each such copy would stall the host. Thread-safe; copies of the
// owner share one cache (shared_ptr), as they share the host tables.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include <ATen/core/Tensor.h>

namespace scorelab {

class TableCache {
 public:
  // `table` with `like`'s device and dtype: the table itself when they already match, else
  // its copy, made on the first call. `table` must live as long as the cache (a member of the
  // same object): it is keyed by its storage.
  const at::Tensor& as(const at::Tensor& table, const at::Tensor& like) {
    return as(table, like.device(), like.scalar_type());
  }
  const at::Tensor& as(const at::Tensor& table, const c10::Device& device, c10::ScalarType dtype) {
    if (table.device() == device && table.scalar_type() == dtype) return table;
    const Key key{table.data_ptr(), device.type(), device.index(), dtype};
    std::lock_guard<std::mutex> lock(m_);
    auto it = copies_.find(key);
    if (it == copies_.end()) it = copies_.emplace(key, table.to(device, dtype).contiguous()).first;
    return it->second;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(m_);
    return copies_.size();
  }

 private:
  using Key = std::tuple<const void*, c10::DeviceType, c10::DeviceIndex, c10::ScalarType>;
  mutable std::mutex m_;
  std::map<Key, at::Tensor> copies_;
};

}  // namespace scorelab
