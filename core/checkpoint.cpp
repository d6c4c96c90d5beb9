#include "core/checkpoint.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <torch/nn/module.h>
#include <torch/serialize.h>

#include "core/error.h"
#include "core/fsutil.h"

namespace scorelab {

void Checksum::bytes(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h_ = (h_ ^ w) * 1099511628211ULL;
  }
  for (; i < n; ++i) h_ = (h_ ^ p[i]) * 1099511628211ULL;
}

void Checksum::text(const std::string& s) {
  number(static_cast<int64_t>(s.size()));
  bytes(s.data(), s.size());
}

void Checksum::tensor(const at::Tensor& t) {
  if (!t.defined()) return number(-1);
  at::Tensor c = t.detach().to(at::kCPU).contiguous();
  number(static_cast<int64_t>(c.scalar_type()));
  for (int64_t d : c.sizes()) number(d);
  bytes(c.data_ptr(), c.numel() * c.element_size());
}

namespace {
// The first bytes of a checkpoint file (then payload length and checksum, 8 bytes each). Files
// without it are checkpoints of earlier versions: LibTorch archives, read unchecked.
constexpr char kEnvelopeMagic[16] = {'S', 'C', 'O', 'R', 'E', 'L', 'A', 'B', '-', 'C', 'K', 'P', 'T', '-', '2', '\n'};
}  // namespace

namespace {
int64_t model_checksum(const torch::nn::Module& model) {
  Checksum c;
  for (const auto& p : model.named_parameters(true)) {
    c.text(p.key());
    c.tensor(p.value());
  }
  for (const auto& b : model.named_buffers(true)) {
    c.text(b.key());
    c.tensor(b.value());
  }
  return c.value();
}
int64_t list_checksum(const std::vector<at::Tensor>& list) {
  Checksum c;
  for (const auto& t : list) c.tensor(t);
  return c.value();
}
int64_t meta_checksum(const CheckpointMeta& m) {
  Checksum c;
  c.number(m.step);
  c.number(m.ema_updates);
  c.text(m.config_yaml);
  for (const auto* list : {&m.rng_states, &m.stream_state, &m.loop_state}) c.number(list_checksum(*list));
  if (!m.more_ema.empty()) c.number(list_checksum(m.more_ema));  // absent before train.ema_decays
  if (!m.posthoc_ema.empty()) c.number(list_checksum(m.posthoc_ema));
  return c.value();
}
bool all_finite(const std::vector<at::Tensor>& ts) {
  for (const auto& t : ts)
    if (t.is_floating_point() && !at::isfinite(t).all().item<bool>()) return false;
  return true;
}
// The stored checksum `name` (absent in older checkpoints: nothing to check) against `actual`.
void verify(torch::serialize::InputArchive& archive, const std::string& path, const std::string& name, int64_t actual) {
  c10::IValue v;
  if (!archive.try_read("checksum_" + name, v)) return;
  if (v.toInt() != actual)
    throw DataError(path + ": the " + name + " part does not match its checksum: the file is damaged "
                           "(a flipped bit, a truncated or edited file); use an earlier checkpoint "
                           "(train.keep_checkpoints keeps them)");
}

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
  if (!meta.more_ema.empty()) write_list(archive, "more_ema", meta.more_ema);
  if (!meta.posthoc_ema.empty()) write_list(archive, "posthoc_ema", meta.posthoc_ema);
  archive.write("step", c10::IValue(meta.step));
  archive.write("ema_updates", c10::IValue(meta.ema_updates));
  archive.write("config", c10::IValue(meta.config_yaml));
  torch::serialize::OutputArchive rng_ar;
  for (size_t i = 0; i < meta.rng_states.size(); ++i) rng_ar.write("g" + std::to_string(i), meta.rng_states[i]);
  archive.write("rng", rng_ar);
  archive.write("rng_count", c10::IValue(static_cast<int64_t>(meta.rng_states.size())));
  archive.write("checksum_meta", c10::IValue(meta_checksum(meta)));
  archive.write("checksum_model", c10::IValue(model_checksum(model)));
  archive.write("checksum_ema", c10::IValue(list_checksum(ema)));
  if (optimizer) archive.write("checksum_optimizer", c10::IValue(list_checksum(optimizer->checksum_tensors())));
  archive.write("format", c10::IValue(std::string("scorelab-checkpoint-1")));
  // The archive inside an envelope: magic, payload length and a checksum of the payload, checked
  // before LibTorch parses anything (its parsers can crash on damaged input; found by fuzzing).
  std::ostringstream payload_stream;
  archive.save_to(payload_stream);
  const std::string payload = payload_stream.str();
  Checksum sum;
  sum.bytes(payload.data(), payload.size());
  const uint64_t header[2] = {static_cast<uint64_t>(payload.size()), static_cast<uint64_t>(sum.value())};
  atomic_publish(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(kEnvelopeMagic, sizeof kEnvelopeMagic);
    out.write(reinterpret_cast<const char*>(header), sizeof header);
    out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  });
}

namespace {

// A stored count, checked before anything is sized by it (checksums are verified after reading).
size_t stored_count(const c10::IValue& v, const std::string& path, const char* what) {
  const int64_t n = v.toInt();
  if (n < 0 || n > 1000000) throw DataError(path + ": damaged checkpoint (" + what + " " + std::to_string(n) + ")");
  return static_cast<size_t>(n);
}

CheckpointMeta load_parts(const std::string& path, torch::serialize::InputArchive& archive, torch::nn::Module* model,
                          std::vector<at::Tensor>* ema, CheckpointPart* optimizer) {
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
    meta.rng_states.resize(stored_count(v, path, "rng_count"));
    for (size_t i = 0; i < meta.rng_states.size(); ++i) sub.read("g" + std::to_string(i), meta.rng_states[i]);
  }
  meta.stream_state = read_list(archive, "stream");
  meta.loop_state = read_list(archive, "loop");
  meta.more_ema = read_list(archive, "more_ema");
  meta.posthoc_ema = read_list(archive, "posthoc_ema");
  verify(archive, path, "meta", meta_checksum(meta));
  if (model) {
    torch::serialize::InputArchive sub;
    archive.read("model", sub);
    // Module::load replaces each tensor with the stored one, whatever its shape: compare shapes.
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
    for (const auto& p : model->named_parameters(true)) shapes.emplace_back(p.key(), p.value().sizes().vec());
    for (const auto& b : model->named_buffers(true)) shapes.emplace_back(b.key(), b.value().sizes().vec());
    std::string why;
    try {
      model->load(sub);
      size_t i = 0;
      for (const auto& p : model->named_parameters(true))
        if (why.empty() && p.value().sizes().vec() != shapes[i++].second) why = p.key() + " has another shape";
      for (const auto& b : model->named_buffers(true))
        if (why.empty() && b.value().sizes().vec() != shapes[i++].second) why = b.key() + " has another shape";
    } catch (const c10::Error& e) {  // a name the stored model lacks
      why = e.what_without_backtrace();
      why = why.substr(0, why.find('\n'));
    }
    if (!why.empty())
      throw DataError(path + ": its weights do not fit the configured model (" + why +
                      "): the checkpoint was written by another architecture, or an override changed it");
    verify(archive, path, "model", model_checksum(*model));
    if (!all_finite(model->parameters())) throw DataError(path + ": the model's weights are not all finite");
  }
  if (ema) {
    archive.read("ema_count", v);
    torch::serialize::InputArchive sub;
    archive.read("ema", sub);
    ema->resize(stored_count(v, path, "ema_count"));
    for (size_t i = 0; i < ema->size(); ++i) sub.read("p" + std::to_string(i), (*ema)[i]);
    verify(archive, path, "ema", list_checksum(*ema));
    if (!all_finite(*ema)) throw DataError(path + ": the EMA weights are not all finite");
  }
  if (optimizer) {
    torch::serialize::InputArchive sub;
    archive.read("optimizer", sub);
    optimizer->load(sub);
    verify(archive, path, "optimizer", list_checksum(optimizer->checksum_tensors()));
  }
  return meta;
}

}  // namespace

CheckpointMeta load_checkpoint(const std::string& path, torch::nn::Module* model, std::vector<at::Tensor>* ema,
                               CheckpointPart* optimizer) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such checkpoint");
  torch::serialize::InputArchive archive;
  std::string bytes;
  try {
    bytes = read_text(path);
  } catch (const std::exception&) {
    throw std::runtime_error(path + ": cannot read the checkpoint");
  }
  const size_t head = sizeof kEnvelopeMagic + 2 * sizeof(uint64_t);
  const bool enveloped = bytes.size() >= sizeof kEnvelopeMagic && bytes.compare(0, sizeof kEnvelopeMagic, kEnvelopeMagic,
                                                                                 sizeof kEnvelopeMagic) == 0;
  if (enveloped) {
    uint64_t header[2] = {0, 0};
    if (bytes.size() >= head) std::memcpy(header, bytes.data() + sizeof kEnvelopeMagic, sizeof header);
    if (bytes.size() < head || header[0] != bytes.size() - head)
      throw DataError(path + ": truncated or extended checkpoint (" + std::to_string(bytes.size()) +
                      " bytes, its header promises " + std::to_string(header[0] + head) +
                      "); use an earlier checkpoint (train.keep_checkpoints keeps them)");
    Checksum sum;
    sum.bytes(bytes.data() + head, bytes.size() - head);
    if (static_cast<uint64_t>(sum.value()) != header[1])
      throw DataError(path + ": the file does not match its checksum: it is damaged (a flipped bit or an edit); "
                             "use an earlier checkpoint (train.keep_checkpoints keeps them)");
  }
  // A checkpoint of an earlier version has no envelope: LibTorch's parser sees it unchecked, and
  // crashes on some damaged ones (tests/fuzz/regressions/checkpoint/legacy_crashes_libtorch_parser.pt)
  // — parse it in a child first.
  if (!enveloped)
    if (const int sig = crash_signal_in_child([&] {
          torch::serialize::InputArchive probe;
          probe.load_from(bytes.data(), bytes.size());
        }))
      throw DataError(path + ": LibTorch crashed reading this checkpoint (signal " + std::to_string(sig) +
                      "): it is damaged (a checkpoint of an earlier version, without a whole-file checksum)");
  try {
    const size_t skip = enveloped ? head : 0;  // the payload in place: no copy of the file
    archive.load_from(bytes.data() + skip, bytes.size() - skip);
  } catch (const std::exception& e) {  // c10::Error, and the TorchScript parser's ErrorReport
    throw std::runtime_error(path + ": not a readable scorelab checkpoint");
  }
  // A part missing or of the wrong type (torch's errors), or a size no allocation can meet: the
  // file is damaged or was not written by scorelab. Checksum and shape errors pass through.
  try {
    return load_parts(path, archive, model, ema, optimizer);
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    throw DataError(path + ": damaged or incomplete checkpoint (" + why.substr(0, why.find('\n')) + ")");
  } catch (const std::bad_alloc&) {
    throw DataError(path + ": damaged checkpoint (a stored size no allocation can meet)");
  } catch (const std::length_error&) {
    throw DataError(path + ": damaged checkpoint (a stored size no allocation can meet)");
  } catch (const std::runtime_error&) {  // scorelab's own (DataError included): they name the file
    throw;
  } catch (const std::exception& e) {  // anything else torch's readers throw
    throw DataError(path + ": damaged or incomplete checkpoint (" + std::string(e.what()).substr(0, 200) + ")");
  }
}

}  // namespace scorelab
