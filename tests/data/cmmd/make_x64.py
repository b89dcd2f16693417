"""The official ``cmmd/distance.mmd`` run in float64 (JAX x64) on the recorded embeddings.

The reference code runs in float32 (JAX's default): its values carry float32 rounding of up to
3e-4 on unit-norm embeddings (sums of n^2 kernel values near 1). Run with x64 enabled, the same
code gives the exact values this project's float64 implementation is compared with.

    JAX_ENABLE_X64=1 PYTHONPATH=<site with jax 0.10.2, flax>:<google-research checkout> \\
        python tests/data/cmmd/make_x64.py        # writes tests/data/cmmd/vectors_x64.json
"""

import json
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
from cmmd import distance  # noqa: E402  (google-research/google-research cmmd/, 4c42994)

HERE = Path(__file__).resolve().parent
vectors = np.load(HERE / "vectors.npz")
meta = json.loads((HERE / "vectors.json").read_text())
out = {"jax": jax.__version__, "jax_enable_x64": True, "mmd_cases": {}, "cmmd": {}}
for case in meta["mmd_cases"]:
    x, y = (vectors[f"mmd_{case}_{side}"].astype(np.float64) for side in ("x", "y"))
    out["mmd_cases"][case] = float(distance.mmd(x, y))
out["cmmd"]["distance.mmd(emb_ref, emb_rec)"] = float(distance.mmd(vectors["emb_ref"].astype(np.float64),
                                                                   vectors["emb_rec"].astype(np.float64)))
(HERE / "vectors_x64.json").write_text(json.dumps(out, indent=2) + "\n")
print(json.dumps(out, indent=2))
