#include "core/checkpoint.h"

#include <filesystem>

#include <torch/nn/module.h>
#include <torch/serialize.h>

#include "core/fsutil.h"

namespace scorelab {

namespace {
// A list of tensors as a sub-archive "<name>" of "t0", "t1", ... and its length "<name>_count".
void write_list(torch::serialize::OutputArchive& archive, const std::string& name, const std::vector<at::Tensor>& list) {
  torch::serialize::OutputArchive sub;
  for (size_t i = 0; i < list.size(); ++i) sub.write("t" + std::to_string(i), list[i]);
  archive.write(name, sub);
  archive.write(name + "_count", c10::IValue(static_cast<int64_t>(list.size())));
}
// Absent in checkpoints of older versions: an empty list.
std::vector<at::Tensor> read_list(torch::serialize::InputArchive& archive, const std::string& name) {
  c10::IValue n;
  if (!archive.try_read(name + "_count", n)) return {};
  torch::serialize::InputArchive sub;
  archive.read(name, sub);
  std::vector<at::Tensor> list(static_cast<size_t>(n.toInt()));
  for (size_t i = 0; i < list.size(); ++i) sub.read("t" + std::to_string(i), list[i]);
  return list;
}
}  // namespace

void save_checkpoint(const std::string& path, torch::nn::Module& model, const std::vector<at::Tensor>& ema,
                     const CheckpointPart* optimizer, const CheckpointMeta& meta) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_ar, ema_ar, opt_ar;
  model.save(model_ar);
  archive.write("model", model_ar);
  for (size_t i = 0; i < ema.size(); ++i) ema_ar.write("p" + std::to_string(i), ema[i]);
  archive.write("ema", ema_ar);
  archive.write("ema_count", c10::IValue(static_cast<int64_t>(ema.size())));
  if (optimizer) {
    optimizer->save(opt_ar);
    archive.write("optimizer", opt_ar);
  }
  write_list(archive, "stream", meta.stream_state);
  write_list(archive, "loop", meta.loop_state);
  archive.write("step", c10::IValue(meta.step));
  archive.write("ema_updates", c10::IValue(meta.ema_updates));
  archive.write("config", c10::IValue(meta.config_yaml));
  torch::serialize::OutputArchive rng_ar;
  for (size_t i = 0; i < meta.rng_states.size(); ++i) rng_ar.write("g" + std::to_string(i), meta.rng_states[i]);
  archive.write("rng", rng_ar);
  archive.write("rng_count", c10::IValue(static_cast<int64_t>(meta.rng_states.size())));
  archive.write("format", c10::IValue(std::string("scorelab-checkpoint-1")));
  atomic_publish(path, [&](const std::string& tmp) { archive.save_to(tmp); });
}

CheckpointMeta load_checkpoint(const std::string& path, torch::nn::Module* model, std::vector<at::Tensor>* ema,
                               CheckpointPart* optimizer) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such checkpoint");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a readable scorelab checkpoint");
  }
  CheckpointMeta meta;
  c10::IValue v;
  if (!archive.try_read("format", v)) throw std::runtime_error(path + ": not a scorelab checkpoint");
  archive.read("step", v);
  meta.step = v.toInt();
  if (archive.try_read("ema_updates", v)) meta.ema_updates = v.toInt();
  archive.read("config", v);
  meta.config_yaml = v.toStringRef();
  archive.read("rng_count", v);
  {
    torch::serialize::InputArchive sub;
    archive.read("rng", sub);
    meta.rng_states.resize(static_cast<size_t>(v.toInt()));
    for (size_t i = 0; i < meta.rng_states.size(); ++i) sub.read("g" + std::to_string(i), meta.rng_states[i]);
  }
  meta.stream_state = read_list(archive, "stream");
  meta.loop_state = read_list(archive, "loop");
  if (model) {
    torch::serialize::InputArchive sub;
    archive.read("model", sub);
    model->load(sub);
  }
  if (ema) {
    archive.read("ema_count", v);
    torch::serialize::InputArchive sub;
    archive.read("ema", sub);
    ema->resize(static_cast<size_t>(v.toInt()));
    for (size_t i = 0; i < ema->size(); ++i) sub.read("p" + std::to_string(i), (*ema)[i]);
  }
  if (optimizer) {
    torch::serialize::InputArchive sub;
    archive.read("optimizer", sub);
    optimizer->load(sub);
  }
  return meta;
}

}  // namespace scorelab
