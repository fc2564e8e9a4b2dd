"""A throw-away asset set with real-SMPL *sizes* (6890 vertices, 13776 faces) and meaningless
geometry, so checkpoint-layout tests can check shapes against the released model without any
licensed file. Never used for anything that looks at the body."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pmrr_model.assets import AssetSet

N_VERTICES = 6890
N_FACES = 13776
SMPL_PARENTS = [
    4294967295,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    9,
    9,
    12,
    13,
    14,
    16,
    17,
    18,
    19,
    20,
    21,
]


def _identity_rows(n_rows: int, n_cols: int) -> sp.csr_matrix:
    return sp.csr_matrix(
        (np.ones(n_rows), (np.arange(n_rows), np.arange(n_rows))), shape=(n_rows, n_cols)
    )


def write_smpl_sized_assets(root: Path) -> AssetSet:
    rng = np.random.default_rng(0)
    (root / "smpl").mkdir(parents=True, exist_ok=True)
    model = {
        "v_template": rng.normal(scale=0.3, size=(N_VERTICES, 3)),
        "f": rng.integers(0, N_VERTICES, (N_FACES, 3)).astype(np.uint32),
        "shapedirs": rng.normal(scale=0.01, size=(N_VERTICES, 3, 10)),
        "posedirs": np.zeros((N_VERTICES, 3, 207)),
        "J_regressor": sp.csc_matrix(np.full((24, N_VERTICES), 1.0 / N_VERTICES)),
        "weights": np.full((N_VERTICES, 24), 1.0 / 24),
        "kintree_table": np.array([SMPL_PARENTS, list(range(24))], dtype=np.int64),
    }
    with open(root / "smpl" / "SMPL_NEUTRAL.pkl", "wb") as handle:
        pickle.dump(model, handle)
    np.save(root / "J_regressor_extra.npy", np.full((9, N_VERTICES), 1.0 / N_VERTICES))
    np.save(root / "J_regressor_h36m.npy", np.full((17, N_VERTICES), 1.0 / N_VERTICES))
    np.savez(
        root / "smpl_mean_params.npz",
        pose=np.tile(np.array([1, 0, 0, -1, 0, 0], np.float32), 24),
        shape=np.zeros(10),
        cam=np.array([0.9, 0, 0], np.float32),
    )
    downsampling = np.empty(2, dtype=object)
    downsampling[0] = _identity_rows(1723, N_VERTICES)
    downsampling[1] = _identity_rows(431, 1723)
    np.savez(
        root / "mesh_downsampling.npz", A=np.empty(0, object), U=np.empty(0, object), D=downsampling
    )
    return AssetSet(
        root=root,
        kind="smpl",
        asset_id="synthetic-test",
        smpl_dir=root / "smpl",
        mean_params=root / "smpl_mean_params.npz",
        mesh_downsampling=root / "mesh_downsampling.npz",
        j_regressor_extra=root / "J_regressor_extra.npy",
        j_regressor_h36m=root / "J_regressor_h36m.npy",
    )
