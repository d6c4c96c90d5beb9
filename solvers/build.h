// Builds samplers from the `sample:` config section (registry entries, one per sampler type).
#pragma once
#include "core/registry.h"
#include "solvers/sampler.h"

namespace scorelab {

class SDE;

void register_samplers(Registry<Sampler, const SDE&>& r);

}  // namespace scorelab
