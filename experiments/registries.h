// The registries of every configurable component, filled explicitly by register_builtin().
#pragma once
#include <memory>
#include <vector>

#include "core/registry.h"
#include "experiments/data/dataset.h"
#include "experiments/evaluation/metric.h"
#include "losses/loss.h"
#include "losses/weighting.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/sampler.h"

namespace scorelab {

struct ModelContext {
  std::shared_ptr<const SDE> sde;
  std::vector<int64_t> sample_shape;  // one example's shape
  uint64_t seed;
  int64_t data_classes = 0;  // the data's number of classes (DataInfo::classes; 0: unlabelled)
};

struct Registries {
  Registries() = default;
  Registries(const Registries&) = delete;  // entries may point into the registries themselves
  Registries& operator=(const Registries&) = delete;
  Registry<SDE> sde{"sde"};
  Registry<Dataset, uint64_t> data{"data"};
  Registry<DataInfo> data_info{"data"};  // the same types, described without reading the data
  Registry<ScoreModel, ModelContext> model{"model"};
  Registry<Loss, LossContext> loss{"loss"};
  Registry<Sampler, const SDE&> sampler{"sampler"};
  MetricRegistry metric;
  WeightingRegistry weighting{"loss", "weighting"};  // DSM weightings, chosen by loss.weighting
};

// Fills `r` in place (entries may refer to other registries of `r`: keep `r` where it is).
void register_builtin(Registries& r);
const Registries& builtin_registries();  // built once, with register_builtin

// k-diffusion's sampler names accepted as `sample.type` (alias -> canonical sampler); `euler`,
// `heun`, `uni_pc` and `uni_pc_bh2` also fix one setting (docs/samplers.md, "Name map").
const std::vector<std::pair<std::string, std::string>>& sampler_aliases();

// The sampler of a `sample:` section (default type euler_maruyama) with its step noise,
// `noise: independent | brownian_tree` (core/noise.h; Brownian-tree noise is refused for
// samplers that draw no step noise and for annealed Langevin, whose draws are not increments)
// and, when the section has `inpaint:`, inpainting for samples of `sample_shape`
// (solvers/inpaint.h).
std::shared_ptr<Sampler> build_sampler(const Registries& reg, const Config& sample, const SDE& sde,
                                       const std::vector<int64_t>& sample_shape);

}  // namespace scorelab
