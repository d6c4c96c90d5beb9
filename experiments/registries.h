// The registries of every configurable component, filled explicitly by register_builtin().
#pragma once
#include <memory>
#include <vector>

#include "core/registry.h"
#include "experiments/dataset.h"
#include "losses/loss.h"
#include "networks/score_model.h"
#include "sde/sde.h"
#include "solvers/sampler.h"

namespace scorelab {

struct ModelContext {
  std::shared_ptr<const SDE> sde;
  std::vector<int64_t> sample_shape;  // one example's shape
  uint64_t seed;
};

struct Registries {
  Registry<SDE> sde{"sde"};
  Registry<Dataset, uint64_t> data{"data"};
  Registry<ScoreModel, ModelContext> model{"model"};
  Registry<Loss, LossContext> loss{"loss"};
  Registry<Sampler, const SDE&> sampler{"sampler"};
};

void register_builtin(Registries& r);
const Registries& builtin_registries();  // built once, with register_builtin

}  // namespace scorelab
