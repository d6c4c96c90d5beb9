// The commands behind the CLI (app/ only parses arguments). Each returns an exit code and
// throws ConfigError / DataError for bad input (the CLI maps those to exit code 2).
#pragma once
#include <string>
#include <vector>

namespace scorelab {

int command_train(const std::string& config_path, const std::vector<std::string>& overrides);

// Draws samples from a checkpoint (EMA weights unless sample.use_ema=false) into an HDF5 file:
// dataset "samples" [n, ...] with the sampler settings, seed and NFE as attributes.
// `out` defaults to <run dir>/samples.h5.
int command_sample(const std::string& checkpoint, const std::vector<std::string>& overrides, std::string out);

}  // namespace scorelab
