// The commands behind the CLI (app/ only parses arguments). Each returns an exit code and
// throws ConfigError / DataError for bad input (the CLI maps those to exit code 2).
#pragma once
#include <string>
#include <vector>

namespace scorelab {

int command_train(const std::string& config_path, const std::vector<std::string>& overrides);

// `--check`: what a command validates before it starts work — the config and overrides, the
// files it reads (data headers; a checkpoint and its fit to the config), an -o that would be
// refused — then one "ok: ..." line and exit 0, without training, sampling or writing anything.
int check_train(const std::string& config_path, const std::vector<std::string>& overrides, bool quiet = false);
int check_inference(const std::string& source, const std::vector<std::string>& overrides, const std::string& out,
                    bool force);

// Draws samples from a checkpoint (EMA weights unless sample.use_ema=false), or from the model
// of a config file (an oracle), into an HDF5 file: dataset "samples" [n, ...] with the sampler
// settings, seed and NFE as attributes. `out` defaults to <run dir>/samples.h5.
// `out` empty: <run dir>/samples.h5 (the checkpoint's run directory, or the checkpoint's own
// directory when it is not under <run>/checkpoints/). An explicit `out` that exists is refused
// (exit 2, nothing done) unless `force`.
int command_sample(const std::string& source, const std::vector<std::string>& overrides, std::string out,
                   bool force = false);

// Log-likelihood of likelihood.n fresh data points through the probability-flow ODE, into
// HDF5: dataset "log_p" [n] (nats) with the mean NLL, bits/dim and settings as attributes.
// `out` defaults to <run dir>/likelihood.h5.
int command_likelihood(const std::string& source, const std::vector<std::string>& overrides, std::string out,
                       bool force = false);

}  // namespace scorelab
