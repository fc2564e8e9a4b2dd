"""AMASS-style export: camera frame (y down) -> world frame (y up)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from pmrr_model.assets import resolve_assets
from pmrr_model.body_model import BodyModel
from tasks.export import CAMERA_TO_WORLD, camera_to_world, export_amass
from tasks.sequence import SmplSequence

HEAD, L_FOOT, R_FOOT = 15, 10, 11  # SMPL kinematic joints


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel(resolve_assets()).eval()


def _run(body: BodyModel, betas, body_pose, orient):
    with torch.no_grad():
        out = body(
            torch.as_tensor(betas, dtype=torch.float32),
            torch.as_tensor(body_pose, dtype=torch.float32),
            torch.as_tensor(orient, dtype=torch.float32),
        )
    return out.vertices.numpy().astype(np.float64), out.joints.numpy(), out.smpl_joints.numpy()


def _camera_sequence(body: BodyModel, n: int = 6, seed: int = 0):
    """One upright person seen by a level camera (SMPL's y-up body turned 180 deg about x),
    slightly rotated, posed and shaped per frame, 3 m in front of the camera."""
    rng = np.random.default_rng(seed)
    upright = Rotation.from_rotvec([np.pi, 0.0, 0.0])
    tilt = Rotation.from_rotvec(rng.normal(scale=0.2, size=(n, 3)))
    orient = (upright * tilt).as_rotvec()
    body_pose = rng.normal(scale=0.15, size=(n, 69))
    betas = rng.normal(scale=0.8, size=10) + rng.normal(scale=0.05, size=(n, 10))
    transl = np.array([0.2, 0.3, 3.0]) + rng.normal(scale=0.05, size=(n, 3))
    vertices, joints, smpl_joints = _run(body, betas, body_pose, orient)
    seq = SmplSequence(
        frame=np.arange(10, 10 + n, dtype=np.int64),
        track_id=np.full(n, 3, np.int32),
        shot_id=np.zeros(n, np.int32),
        bbox_px=np.zeros((n, 4), np.float32),
        det_score=np.ones(n, np.float32),
        global_orient=orient.astype(np.float32),
        body_pose=body_pose.astype(np.float32),
        betas=betas.astype(np.float32),
        cam=np.zeros((n, 3), np.float32),
        transl_m=transl.astype(np.float32),
        joints3d_m=(joints + transl[:, None]).astype(np.float32),
        joints2d_px=np.zeros((n, joints.shape[1], 2), np.float32),
        confidence=np.ones(n, np.float32),
        joints_observed=np.ones((n, joints.shape[1]), bool),
        estimator="test",
        assets=body.asset_id,
        smoothed=True,
    )
    return seq, vertices + transl[:, None], smpl_joints + transl[:, None]


def test_conversion_is_an_involution():
    rng = np.random.default_rng(1)
    orient = Rotation.random(50, random_state=2).as_rotvec()
    transl = rng.normal(size=(50, 3))
    root = rng.normal(scale=0.3, size=(50, 3))
    for offset in (None, root):
        o1, t1 = camera_to_world(orient, transl, offset)
        o2, t2 = camera_to_world(o1, t1, offset)
        assert np.allclose(
            Rotation.from_rotvec(o2).as_matrix(),
            Rotation.from_rotvec(orient).as_matrix(),
            atol=1e-9,
        )
        assert np.allclose(t2, transl, atol=1e-12)
    o1, t1 = camera_to_world(orient, transl)
    assert np.allclose(t1, transl * [1, -1, -1])
    assert np.allclose(
        Rotation.from_rotvec(o1).as_matrix(),
        CAMERA_TO_WORLD @ Rotation.from_rotvec(orient).as_matrix(),
    )


def test_export_amass_head_up_and_mesh_rotated(body, tmp_path):
    seq, cam_vertices, cam_joints = _camera_sequence(body)
    # camera frame: head above the feet on screen = smaller y
    assert (cam_joints[:, HEAD, 1] < cam_joints[:, [L_FOOT, R_FOOT], 1].min(1) - 0.5).all()
    frame_times = np.arange(40) / 25.0 + 0.013
    (path,) = export_amass(seq, frame_times, 25.0, tmp_path)
    assert path.name == "amass_track_3.npz"
    with np.load(path, allow_pickle=False) as data:
        d = {k: data[k] for k in data.files}
    n = len(seq)
    assert d["poses"].shape == (n, 72) and d["trans"].shape == (n, 3)
    assert d["betas"].shape == (10,) and d["betas_per_frame"].shape == (n, 10)
    assert np.allclose(d["betas"], seq.betas.mean(0), atol=1e-6)
    assert str(d["gender"]) == "neutral" and float(d["mocap_framerate"]) == 25.0
    assert np.array_equal(d["frame_indices"], seq.frame)
    assert np.allclose(d["frame_times_s"], frame_times[seq.frame])
    assert str(d["estimator"]) == "test" and str(d["assets"]) == body.asset_id
    assert bool(d["smoothed"]) is True
    assert np.allclose(d["poses"][:, 3:], seq.body_pose, atol=1e-6)

    # an AMASS loader: vertices = SMPL(poses, betas) + trans
    vertices, _, smpl_joints = _run(
        body, d["betas_per_frame"], d["poses"][:, 3:], d["poses"][:, :3]
    )
    world_vertices = vertices + d["trans"][:, None]
    world_joints = smpl_joints + d["trans"][:, None]
    # world frame: y up, head above the feet
    assert (world_joints[:, HEAD, 1] > world_joints[:, [L_FOOT, R_FOOT], 1].max(1) + 0.5).all()
    # the same mesh, rotated by R (float32 body model and float32 sequence storage)
    assert np.abs(world_vertices - cam_vertices @ CAMERA_TO_WORLD.T).max() < 1e-4
    # with the track's mean betas only the shape changes: the pelvis stays where it was
    _, _, mean_joints = _run(
        body, np.repeat(d["betas"][None], n, 0), d["poses"][:, 3:], d["poses"][:, :3]
    )
    pelvis = mean_joints[:, 0] + d["trans"]
    assert np.abs(pelvis - cam_joints[:, 0] @ CAMERA_TO_WORLD.T).max() < 0.01


def test_export_amass_per_track_and_frame_bounds(body, tmp_path):
    a, _, _ = _camera_sequence(body, n=4, seed=3)
    b, _, _ = _camera_sequence(body, n=3, seed=4)
    b = b.with_rows(track_id=np.full(3, 7, np.int32))
    seq = SmplSequence.concat([a, b])
    paths = export_amass(seq, np.arange(20) / 30.0, 30.0, tmp_path / "out")
    assert [p.name for p in paths] == ["amass_track_3.npz", "amass_track_7.npz"]
    with np.load(paths[1], allow_pickle=False) as data:
        assert data["poses"].shape == (3, 72)
    with pytest.raises(ValueError, match="outside frame_times_s"):
        export_amass(seq, np.arange(5) / 30.0, 30.0, tmp_path / "bad")
