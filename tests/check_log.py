"""Opens a scorelab run log with h5py (as a user would) and checks the documented schema."""
import sys

import h5py
import numpy as np

path = sys.argv[1]
with h5py.File(path, "r", swmr=True) as f:
    for key in ("config", "name", "scorelab_version", "torch_version", "hdf5_version", "device", "threads"):
        assert key in f.attrs, f"missing root attribute {key}"
    steps = f["train/step"][:]
    assert steps.dtype == np.int64 and len(steps) > 0, steps
    assert np.all(np.diff(steps) > 0), "steps must increase"
    for col in ("loss", "grad_norm", "lr", "ema_decay", "seconds", "steps_per_sec", "nonfinite_steps"):
        assert f["train/" + col].shape == steps.shape, col
        assert np.all(np.isfinite(f["train/" + col][:])), col
    for col in ("step", "sliced_w2", "sliced_w2_prior", "sliced_w2_floor", "nfe", "sample_seconds"):
        assert f["eval/" + col].shape[0] >= 1, col
    s = f["samples/final"]
    assert s.ndim == 2 and s.shape[1] == 2, s.shape
    assert "type" in s.attrs and "nfe" in s.attrs and "seed" in s.attrs
print("ok", path)
