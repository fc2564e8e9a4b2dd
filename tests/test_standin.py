"""The generated stand-in body model: file formats, smplx loading, kinematics, regressors.

Generation runs once per session (reusing ``PMRR_CACHE_DIR`` when set); everything else reads
the files the way the seed and smplx do.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import smplx
import torch

from pmrr_model.standin import ensure_standin_assets, generate
from pmrr_model.standin.preview import seated_pose

LEFT_ELBOW, LEFT_WRIST = 18, 20


@pytest.fixture(scope="module")
def asset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = os.environ.get("PMRR_CACHE_DIR")
    root = Path(cache) if cache else tmp_path_factory.mktemp("standin-cache")
    return ensure_standin_assets(root)


@pytest.fixture(scope="module")
def smpl_data(asset_dir: Path) -> dict:
    with open(asset_dir / "smpl" / "SMPL_NEUTRAL.pkl", "rb") as handle:
        return pickle.load(handle, encoding="latin1")


@pytest.fixture(scope="module")
def vertex_ids(asset_dir: Path) -> dict[str, int]:
    return json.loads((asset_dir / "standin_vertex_ids.json").read_text())


@pytest.fixture(scope="module")
def model(asset_dir: Path, vertex_ids: dict[str, int]) -> smplx.SMPL:
    return smplx.create(
        str(asset_dir / "smpl"), model_type="smpl", gender="neutral", vertex_ids=vertex_ids
    ).double()


def _axis_angle_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _pose(model: smplx.SMPL, **kwargs) -> smplx.utils.SMPLOutput:
    tensors = {key: torch.as_tensor(value, dtype=torch.float64) for key, value in kwargs.items()}
    with torch.no_grad():
        return model(**tensors)


# --- layout and formats --------------------------------------------------------------------


def test_layout_and_manifest(asset_dir: Path) -> None:
    for name in (
        "smpl/SMPL_NEUTRAL.pkl",
        "smpl_mean_params.npz",
        "mesh_downsampling.npz",
        "J_regressor_extra.npy",
        "J_regressor_h36m.npy",
        "standin_vertex_ids.json",
        "asset_manifest.json",
    ):
        assert (asset_dir / name).is_file(), name
    manifest = json.loads((asset_dir / "asset_manifest.json").read_text())
    assert manifest["kind"] == "standin"
    assert asset_dir.name == f"standin-{manifest['asset_id']}" == f"standin-{generate.asset_id()}"
    assert manifest["source"].startswith("anny ")
    for key in ("n_vertices", "n_faces", "generated_in_s", "max_joint_regressor_error_m"):
        assert key in manifest
    print(f"boundary edges: {manifest['boundary_edges']}")
    assert manifest["boundary_edges"] < 100  # watertight enough (the anny body is closed: 0)
    leftovers = [p.name for p in asset_dir.parent.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers


def test_pickle_is_smpl_shaped(smpl_data: dict) -> None:
    n = smpl_data["v_template"].shape[0]
    assert 3000 <= n <= 15000
    assert smpl_data["v_template"].dtype == np.float64
    assert smpl_data["f"].shape[1] == 3 and smpl_data["f"].max() < n
    assert smpl_data["shapedirs"].shape[:2] == (n, 3) and smpl_data["shapedirs"].shape[2] >= 10
    assert smpl_data["posedirs"].shape == (n, 3, 207)
    assert sp.issparse(smpl_data["J_regressor"]) and smpl_data["J_regressor"].shape == (24, n)
    assert smpl_data["weights"].shape == (n, 24)
    assert smpl_data["J"].shape == (24, 3)
    kintree = smpl_data["kintree_table"]
    assert kintree.shape == (2, 24) and kintree[0, 0] == 4294967295
    assert list(kintree[0, 1:]) == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]  # fmt: skip
    assert not any("chumpy" in type(value).__module__ for value in smpl_data.values())


def test_weights_and_regressor_rows_sum_to_one(smpl_data: dict) -> None:
    weights = smpl_data["weights"]
    assert weights.min() >= 0 and np.allclose(weights.sum(axis=1), 1.0, atol=1e-9)
    regressor = smpl_data["J_regressor"].toarray()
    assert regressor.min() >= 0 and np.allclose(regressor.sum(axis=1), 1.0, atol=1e-9)
    assert np.allclose(regressor @ smpl_data["v_template"], smpl_data["J"], atol=1e-9)


# --- smplx ---------------------------------------------------------------------------------


def test_loads_through_smplx_both_ways(asset_dir: Path, smpl_data: dict) -> None:
    by_create = smplx.create(str(asset_dir / "smpl"), model_type="smpl", gender="neutral")
    by_class = smplx.SMPL(str(asset_dir / "smpl"))
    for body in (by_create, by_class):
        with torch.no_grad():
            vertices = body().vertices[0].numpy()
        assert vertices.shape == smpl_data["v_template"].shape
        assert np.isfinite(vertices).all()
        assert 1.5 <= np.ptp(vertices[:, 1]) <= 1.9  # T-pose height, metres


def test_smpl_conventions_t_pose(model: smplx.SMPL, vertex_ids: dict[str, int]) -> None:
    out = _pose(model)
    joints, vertices = out.joints[0].numpy(), out.vertices[0].numpy()
    assert joints[15, 1] > joints[12, 1] > joints[0, 1] > joints[4, 1]  # y up
    assert joints[16, 0] > 0.1 and joints[1, 0] > 0.05  # subject's left at +x
    assert vertices[vertex_ids["nose"], 2] > joints[15, 2] + 0.05  # faces +z
    for wrist, shoulder in ((20, 16), (21, 17)):  # arms horizontal along +-x
        arm = joints[wrist] - joints[shoulder]
        assert abs(arm[0]) > 0.4 and abs(arm[1]) < 0.02 and abs(arm[2]) < 0.02


def test_left_elbow_rotation_is_rigid(model: smplx.SMPL, smpl_data: dict) -> None:
    rest = _pose(model)
    rotation = _axis_angle_matrix(np.array([0.0, 1.0, 0.0]), math.pi / 2)
    body_pose = np.zeros((1, 69))
    body_pose[0, 3 * (LEFT_ELBOW - 1) + 1] = math.pi / 2
    posed = _pose(model, body_pose=body_pose)
    elbow = rest.joints[0, LEFT_ELBOW].numpy()
    expected = elbow + rotation @ (rest.joints[0, LEFT_WRIST].numpy() - elbow)
    assert np.linalg.norm(posed.joints[0, LEFT_WRIST].numpy() - expected) < 1e-3
    assert np.allclose(posed.joints[0, LEFT_ELBOW].numpy(), elbow, atol=1e-6)
    # Mid-forearm vertices (fully on the elbow joint) follow the same rigid motion.
    forearm = np.flatnonzero(smpl_data["weights"][:, LEFT_ELBOW] > 0.999)
    assert len(forearm) > 20
    moved = elbow + (rest.vertices[0, forearm].numpy() - elbow) @ rotation.T
    assert np.abs(posed.vertices[0, forearm].numpy() - moved).max() < 1e-3


def test_global_orient_180_about_x_flips_y(model: smplx.SMPL) -> None:
    rest = _pose(model)
    flipped = _pose(model, global_orient=np.array([[math.pi, 0.0, 0.0]]))
    pelvis = rest.joints[0, 0].numpy()
    before, after = rest.vertices[0].numpy() - pelvis, flipped.vertices[0].numpy() - pelvis
    assert np.allclose(after[:, 0], before[:, 0], atol=1e-6)
    assert np.allclose(after[:, 1], -before[:, 1], atol=1e-6)
    assert np.allclose(after[:, 2], -before[:, 2], atol=1e-6)


def test_random_poses_and_shapes_stay_finite(model: smplx.SMPL) -> None:
    generator = np.random.default_rng(0)
    batch = 8
    out = _pose(
        model,
        betas=generator.normal(0, 1.5, (batch, 10)),
        body_pose=generator.normal(0, 0.6, (batch, 69)),
        global_orient=generator.normal(0, 1.0, (batch, 3)),
    )
    assert np.isfinite(out.vertices.numpy()).all() and np.isfinite(out.joints.numpy()).all()
    shaped = _pose(
        model,
        betas=generator.normal(0, 1, (batch, 10)),
        body_pose=np.zeros((batch, 69)),
        global_orient=np.zeros((batch, 3)),
    )
    heights = np.ptp(shaped.vertices[..., 1].numpy(), axis=1)
    assert (heights > 1.2).all() and (heights < 2.3).all()


def test_vertex_keypoints_give_45_sensible_joints(model: smplx.SMPL) -> None:
    joints = _pose(model).joints[0].numpy()
    assert joints.shape == (45, 3)
    names = ("nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel",
             "RBigToe", "RSmallToe", "RHeel", "lthumb", "lindex", "lmiddle", "lring", "lpinky",
             "rthumb", "rindex", "rmiddle", "rring", "rpinky")  # fmt: skip
    point = {name: joints[24 + i] for i, name in enumerate(names)}
    head, wrist_l = joints[15], joints[20]
    assert point["leye"][0] > 0 > point["reye"][0] and point["lear"][0] > 0 > point["rear"][0]
    assert point["nose"][2] > point["leye"][2] > point["lear"][2]
    assert all(
        np.linalg.norm(point[k] - head) < 0.2 for k in ("nose", "leye", "reye", "lear", "rear")
    )
    for side, ankle in (("L", joints[7]), ("R", joints[8])):
        assert point[f"{side}BigToe"][2] > ankle[2] + 0.1 > point[f"{side}Heel"][2] + 0.1
        assert point[f"{side}BigToe"][1] < ankle[1]
    for finger in ("thumb", "index", "middle", "ring", "pinky"):
        assert point["l" + finger][0] > wrist_l[0] + 0.05
        assert point["r" + finger][0] < -wrist_l[0] - 0.05


def test_seated_pose_does_not_tear(model: smplx.SMPL, smpl_data: dict) -> None:
    rest = smpl_data["v_template"]
    posed = _pose(model, body_pose=seated_pose()[None]).vertices[0].numpy()
    faces = smpl_data["f"].astype(np.int64)
    edges = np.unique(
        np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1),
        axis=0,
    )
    ratio = np.linalg.norm(posed[edges[:, 0]] - posed[edges[:, 1]], axis=1) / np.linalg.norm(
        rest[edges[:, 0]] - rest[edges[:, 1]], axis=1
    )
    # Shoulders, hips and knees (and everything else) keep edges under 4x their rest length.
    assert ratio.max() < 4.0, f"edge stretched {ratio.max():.2f}x"
    assert ratio.min() > 0.1


# --- regressors and the seed's other files ------------------------------------------------


def test_joint_regressor_follows_anny_joints_across_shapes(smpl_data: dict) -> None:
    """Held-out anny adults (not used in the fit). A non-negative, local regressor cannot follow
    anny's joints exactly: anny's skeleton drifts against the skin across phenotypes (e.g. the
    knee moves ~6% of leg length against the kneecap with its height target), so the bound on
    the worst joint is looser than on the typical one."""
    error = generate.evaluate_joint_regressor(smpl_data["J_regressor"].toarray(), n=20, seed=99)
    print(
        f"joint regressor error over 20 shapes: max {error['max'] * 1000:.1f} mm, rms {error['rms'] * 1000:.1f} mm"
    )
    assert error["rms"] < 0.01
    assert error["max"] < 0.045


def test_extra_and_h36m_regressors(asset_dir: Path, smpl_data: dict) -> None:
    n = smpl_data["v_template"].shape[0]
    extra = np.load(asset_dir / "J_regressor_extra.npy")
    h36m = np.load(asset_dir / "J_regressor_h36m.npy")
    assert extra.shape == (9, n) and h36m.shape == (17, n)
    for regressor in (extra, h36m):
        assert regressor.min() >= 0 and np.allclose(regressor.sum(axis=1), 1.0, atol=1e-9)
    template, joints = smpl_data["v_template"], smpl_data["J"]
    e = extra @ template
    assert e[0, 0] < 0 < e[1, 0]  # right hip, left hip
    assert e[3, 1] > e[8, 1] > e[7, 1] > e[5, 1] > e[6, 1] > e[4, 1]  # head top ... pelvis
    assert e[8, 1] > e[2, 1] > e[5, 1]  # LSP neck between head and thorax
    assert abs(e[3, 1] - template[:, 1].max()) < 0.01
    h = h36m @ template
    assert np.allclose(h[[1, 2, 3, 4, 5, 6]], joints[[2, 5, 8, 1, 4, 7]], atol=1e-9)
    assert np.allclose(h[11:], joints[[16, 18, 20, 17, 19, 21]], atol=1e-9)
    assert h[10, 1] > h[9, 1] > h[8, 1] > h[7, 1] > h[0, 1]


def test_mesh_downsampling_loads_the_seed_way(asset_dir: Path, smpl_data: dict) -> None:
    n = smpl_data["v_template"].shape[0]
    graph = np.load(asset_dir / "mesh_downsampling.npz", allow_pickle=True, encoding="latin1")
    A, U, D = graph["A"], graph["U"], graph["D"]

    def to_torch(matrix) -> torch.Tensor:
        coo = sp.coo_matrix(matrix)
        index = torch.LongTensor(np.array([coo.row, coo.col]))
        return torch.sparse_coo_tensor(
            index, torch.FloatTensor(coo.data), coo.shape, check_invariants=True
        )

    ptD = [to_torch(d) for d in D]
    Dmap = ptD[1].to_dense() @ ptD[0].to_dense()
    n1 = D[0].shape[0]
    assert Dmap.shape == (431, n) and abs(n1 - n / 4) < 2
    assert torch.allclose(Dmap.sum(dim=1), torch.ones(431))
    assert U[0].shape == (n, n1) and U[1].shape == (n1, 431)
    assert [a.shape for a in A] == [(n, n), (n1, n1), (431, 431)]
    for u in U:
        assert np.allclose(np.asarray(u.sum(axis=1)).ravel(), 1.0)
    assert all((np.asarray(a.sum(axis=1)).ravel() > 0).all() for a in A)  # no isolated nodes
    # The 431 points spread over the body: every SMPL segment gets some.
    points = Dmap.double().numpy() @ smpl_data["v_template"]
    owner = np.argmax(smpl_data["weights"], axis=1)[np.argmax(Dmap.numpy(), axis=1)]
    assert len(set(owner.tolist())) >= 20 and np.ptp(points[:, 1]) > 1.5


def test_mean_params(asset_dir: Path) -> None:
    params = np.load(asset_dir / "smpl_mean_params.npz")
    assert params["pose"].shape == (144,) and params["pose"].dtype == np.float64
    assert np.array_equal(params["shape"], np.zeros(10))
    assert np.allclose(params["cam"], [0.9, 0.0, 0.0])
    six = params["pose"].reshape(24, 3, 2)  # first two columns of each rotation, row-major
    assert np.allclose(six[0], np.diag([1.0, -1.0, -1.0])[:, :2])
    assert np.allclose(six[1], np.eye(3)[:, :2])
    for joint in (16, 17):  # arms lowered: the arm axis (+-x) gains a downward component
        assert six[joint][1, 0] * (1 if joint == 17 else -1) > 0.5


# --- determinism and atomicity ------------------------------------------------------------


def test_generation_is_deterministic(smpl_data: dict) -> None:
    first, second = generate.build_standin(), generate.build_standin()
    assert generate.asset_id() == generate.asset_id()
    for key in ("v_template", "shapedirs", "weights", "J", "f"):
        assert np.array_equal(first.smpl[key], second.smpl[key]), key
        assert np.allclose(first.smpl[key], smpl_data[key], atol=1e-8), key
    assert (first.smpl["J_regressor"] != second.smpl["J_regressor"]).nnz == 0
    assert np.array_equal(first.j_regressor_extra, second.j_regressor_extra)
    assert first.vertex_ids == second.vertex_ids
    for key in ("A", "U", "D"):
        for a, b in zip(first.pyramid[key], second.pyramid[key], strict=True):
            assert (a != b).nnz == 0


def test_failed_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Fake:
        stats: dict = {}

    def crash(directory: Path, arrays, manifest) -> None:
        (directory / "partial.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(generate, "build_standin", lambda: Fake())
    monkeypatch.setattr(generate, "write_assets", crash)
    with pytest.raises(RuntimeError):
        generate.generate_standin_assets(tmp_path / "standin-x")
    assert list(tmp_path.iterdir()) == []
