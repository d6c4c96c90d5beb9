// Stopping a run cleanly on SIGINT / SIGTERM: the first signal only sets a flag that the
// training loop reads after each step (it then writes a checkpoint, flushes the log and exits
// with 128 + the signal's number). A second signal ends the process at once (checkpoints are
// written atomically, so what is on disk stays readable) — unless it repeats the first from the
// same process within half a second: a dying sweep's PR_SET_PDEATHSIG arrives once per sweep thread.
#pragma once

namespace scorelab {

// Installs the handler for SIGINT and SIGTERM, except where the signal is ignored (a job started
// with nohup, or in the background of a non-interactive shell, keeps ignoring SIGINT).
void install_stop_handlers();
// Back to the default actions (after the training loop: the final evaluation is not stoppable
// step by step).
void remove_stop_handlers();
// The signal received since install_stop_handlers(), or 0.
int stop_signal();
// "SIGINT", "SIGTERM" or "signal N".
const char* signal_name(int sig);

}  // namespace scorelab
