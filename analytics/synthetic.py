"""Bodies posed through the project's body model, in the camera frame: used by the tests (known
answers) and for sample figures. Needs torch; the rest of ``analytics`` does not import it.

SMPL's frame is y up, facing +z, subject's left +x. A person with heading ``yaw_deg`` standing
at camera position ``position`` is placed by Ry(yaw) in SMPL's frame, then a 180 deg rotation about
x (camera y points down, and yaw 0 faces the camera), then the translation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from pmrr_model.constants import SMPL_JOINT_NAMES


def pose(**joints: tuple[float, float, float]) -> np.ndarray:
    """(69,) body pose from SMPL joint names -> axis-angle in degrees, e.g. ``pose(head=(20, 0, 0))``."""
    out = np.zeros(69)
    for name, aa in joints.items():
        k = SMPL_JOINT_NAMES.index(name) - 1
        out[3 * k : 3 * k + 3] = np.radians(aa)
    return out


RELAXED = pose(left_shoulder=(0, 0, -70), right_shoulder=(0, 0, 70))


def forward(body, body_pose: np.ndarray, global_orient: np.ndarray | None = None):
    """Run the body model on (B, 69) radians; global_orient (B, 3) radians (default zero)."""
    body_pose = np.atleast_2d(body_pose)
    b = len(body_pose)
    go = (
        np.zeros((b, 3)) if global_orient is None else np.broadcast_to(global_orient, (b, 3)).copy()
    )
    with torch.no_grad():
        return body(
            betas=torch.zeros(b, 10),
            body_pose=torch.as_tensor(body_pose, dtype=torch.float32),
            global_orient=torch.as_tensor(go, dtype=torch.float32),
        )


def to_camera(
    points: np.ndarray, yaw_deg: float | np.ndarray = 0.0, position=(0.0, 0.0, 3.0)
) -> np.ndarray:
    """SMPL-frame points (B, N, 3) -> camera frame (float64)."""
    p = np.asarray(points, dtype=np.float64)
    yaw = np.radians(np.broadcast_to(np.asarray(yaw_deg, dtype=np.float64), p.shape[:1]))
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x = c * p[..., 0] + s * p[..., 2]
    z = -s * p[..., 0] + c * p[..., 2]
    out = np.stack([x, -p[..., 1], -z], axis=-1)
    return out + np.asarray(position, dtype=np.float64).reshape(-1, 1, 3)


def camera_joints(
    body, body_pose, global_orient=None, yaw_deg=0.0, position=(0.0, 0.0, 3.0)
) -> np.ndarray:
    """Posed 49 joints (B, 49, 3) in the camera frame."""
    return to_camera(forward(body, body_pose, global_orient).joints.numpy(), yaw_deg, position)


def _fk(rest: torch.Tensor, parents: list[int], rot: torch.Tensor) -> torch.Tensor:
    """Posed SMPL joints (24, 3) from rest joints and local rotations (24, 3, 3): the kinematic
    chain alone, exactly what the body model does to its joints, without skinning the mesh."""
    g_rot, g_pos = [rot[0]], [rest[0]]
    for k in range(1, len(parents)):
        p = parents[k]
        g_pos.append(g_pos[p] + g_rot[p] @ (rest[k] - rest[p]))
        g_rot.append(g_rot[p] @ rot[k])
    return torch.stack(g_pos)


def solve_hands(
    body,
    targets: dict[str, tuple[float, float, float]],
    base_pose: np.ndarray = RELAXED,
    global_orient: np.ndarray | None = None,
    iters: int = 200,
) -> np.ndarray:
    """Shoulder + elbow rotations putting SMPL's ``left_hand``/``right_hand`` joints at targets
    (SMPL frame, metres), by gradient descent on the kinematic chain; returns the (69,) pose."""
    from pmrr_model.geometry import axis_angle_to_rotmat

    names = {
        "left": ("left_shoulder", "left_elbow", 22),
        "right": ("right_shoulder", "right_elbow", 23),
    }
    rest = forward(body, np.zeros(69)).smpl_joints[0].double()
    parents = [int(p) for p in body.smpl.parents[:24]]
    go = np.zeros(3) if global_orient is None else np.asarray(global_orient, dtype=np.float64)
    base = torch.as_tensor(np.r_[go, base_pose], dtype=torch.float64).reshape(24, 3)
    slots = [SMPL_JOINT_NAMES.index(n) for side in targets for n in names[side][:2]]
    delta = torch.zeros(len(slots), 3, dtype=torch.float64, requires_grad=True)
    goal = torch.tensor([targets[s] for s in targets], dtype=torch.float64)
    hand_idx = [names[s][2] for s in targets]
    opt = torch.optim.Adam([delta], lr=0.05)
    for _ in range(iters):
        aa = base.clone()
        aa[slots] = aa[slots] + delta
        posed = _fk(rest, parents, axis_angle_to_rotmat(aa))
        loss = ((posed[hand_idx] - goal) ** 2).sum() + 1e-5 * (delta**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    aa = base.clone().detach()
    aa[slots] += delta.detach()
    return aa[1:].reshape(69).numpy()


def smpl_table(
    joints: np.ndarray, video_id: str, track_id: int, fps: float, frames=None
) -> pd.DataFrame:
    """Camera-frame joints (T, 49, 3) -> rows in the `smpl` table layout (joints only)."""
    frames = np.arange(len(joints)) if frames is None else np.asarray(frames)
    return pd.DataFrame(
        {
            "video_id": video_id,
            "track_id": track_id,
            "frame": frames,
            "t_s": frames / fps,
            "joints3d_m": list(joints.reshape(len(joints), -1)),
        }
    )


def _ramp(t: np.ndarray, start: float, end: float, fade: float = 0.3) -> np.ndarray:
    """0 -> 1 over ``fade`` s at ``start``, back to 0 at ``end`` (smooth blend weight)."""
    up = np.clip((t - start) / fade, 0, 1)
    down = np.clip((end - t) / fade, 0, 1)
    w = np.minimum(up, down)
    return w * w * (3 - 2 * w)


def demo_sequence(body, fps: float = 25.0, duration_s: float = 20.0) -> pd.DataFrame:
    """Two people facing each other (`smpl` rows, video_id "demo"): the interviewee (track 1,
    nearer the camera) nods at 2-5 s, gestures at 7-9.5 s, touches the face at 11-13.5 s and leans
    forward at 15 s; the interviewer (track 2) shakes the head at 4.5-6.5 s and gestures at
    9.5-11.5 s; both sway, the interviewee 0.8 s after the interviewer. Track 1 is missing 17-17.5 s."""
    t = np.arange(0, duration_s, 1 / fps)
    n = len(t)
    rng = np.random.default_rng(7)
    sway = np.convolve(rng.normal(size=n + 200), np.hanning(41) / np.hanning(41).sum(), "same")
    lag = round(0.8 * fps)
    touch = solve_hands(body, {"right": (-0.09, 0.69, 0.12)})

    def person(head_pitch, head_yaw, gesture_w, touch_w, lean_deg, sway_sig):
        poses = np.repeat(RELAXED[None], n, 0)
        poses = poses + touch_w[:, None] * (touch - RELAXED)[None]
        wave = gesture_w * np.sin(2 * np.pi * 1.6 * t)
        poses[:, 16 * 3 + 2] += np.radians(45) * gesture_w + np.radians(25) * wave  # right shoulder
        poses[:, 18 * 3 + 1] += np.radians(70) * gesture_w  # right elbow flexed
        poses[:, 14 * 3] += np.radians(head_pitch + 3 * sway_sig)
        poses[:, 14 * 3 + 1] += np.radians(head_yaw)
        poses[:, 0:3] = -np.radians(lean_deg)[:, None] * [1, 0, 0]  # hips keep the legs still
        poses[:, 3:6] = poses[:, 0:3]
        go = np.radians(np.c_[lean_deg + 4 * sway_sig, np.zeros(n), 2 * sway_sig])
        return poses, go

    nod = 10 * np.sin(2 * np.pi * 2.0 * t) * _ramp(t, 2.0, 5.0, 0.1)
    shake = 15 * np.sin(2 * np.pi * 2.5 * t) * _ramp(t, 4.5, 6.5, 0.1)
    lean = 18 * np.clip((t - 15.0) / 0.6, 0, 1)
    p1, g1 = person(
        nod, 0 * t, _ramp(t, 7, 9.5), _ramp(t, 11, 13.5), lean, sway[100 - lag : 100 - lag + n]
    )
    p2, g2 = person(0 * t, shake, _ramp(t, 9.5, 11.5), 0 * t, 0 * t, sway[100 : 100 + n])
    j1 = to_camera(forward(body, p1, g1).joints.numpy(), -55.0, (0.45, 0.1, 2.4))
    j2 = to_camera(forward(body, p2, g2).joints.numpy(), 125.0, (-0.9, 0.05, 3.6))
    keep = (t < 17.0) | (t >= 17.5)
    return pd.concat(
        [
            smpl_table(j1[keep], "demo", 1, fps, np.flatnonzero(keep)),
            smpl_table(j2, "demo", 2, fps),
        ],
        ignore_index=True,
    )
