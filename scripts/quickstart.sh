#!/usr/bin/env bash
# README command 1: install what is missing, build the CLI, run the quickstart experiment
# (VP SDE + MLP + DSM on the 8-Gaussians toy; about a minute on 2 cores).
# Re-running it is safe: a finished run says so and does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh scorelab
./build/scorelab train experiments/configs/quickstart.yaml train.resume=true "$@"
echo
echo "Run directory: runs/quickstart  (config.yaml, log.h5, checkpoints/last.pt, samples/final.png)"
