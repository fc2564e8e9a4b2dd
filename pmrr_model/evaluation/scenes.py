"""Synthetic interview scenes with known ground truth: videos plus what is in them.

Each scene is rendered from the project's own body model (the stand-in by default, or the
user's SMPL files) posed frame by frame from a *script* of behaviours with known timing and
amplitude, with varied shapes (betas, seeded) and per-vertex colours (skin, shirt, trousers,
shoes, hair, eyes, mouth), drawn with pyrender (the project's default renderer, same camera
conventions as :mod:`pmrr_model.render`) over real photos that ship with scikit-image and show
nobody (``coffee``, ``rocket``, ``chelsea``: a cup, a launch pad, a cat).

Camera: a pinhole with the focal length the pipeline assumes for an unknown camera (the image
diagonal, :func:`pmrr_model.crop.default_focal_px`: 734.3 px at 640x360) and its principal
point at the image centre, level (no pitch or roll), so the ground truth and the estimates live
in the same camera frame (x right, y down, z forward, metres; ``docs/TABLES.md``).

Scene kinds (``SCENE_KINDS``; 640x360, 25 fps unless ``fps`` says otherwise):

``medium``     one person seated, medium shot (head to lap), every behaviour once
``interview``  two people seated facing each other at an angle, taking turns
``closeup``    head-and-shoulders close-up, the body cut by the frame at the chest
``occlusion``  two people, the nearer one hiding part of the one behind
``cut``        a hard cut from a one-person medium shot to a two-person wide shot
``still``      one person listening still (small sway only): false events per minute

Behaviours (``Action.kind``) and the event type they are scored as:

============  ==================  ===========================================================
kind          event type          script
============  ==================  ===========================================================
nod           nod                 head pitch ``amplitude`` deg x sin(2 pi f t), f = frequency
shake         shake               head yaw, the same
hand_to_face  face_touch          right hand to the chin and held (0.3 s blends in and out)
arms_crossed  arms_crossed        both forearms folded across the belly and held
lean          posture_shift       trunk lean changes by ``amplitude`` deg over [start, end]
                                  (hips compensate: the legs stay put) and is held after
beats         gesture_stroke      right hand raised into gesture space, beats of 0.12 m every
                                  1 / frequency s, lowered again; the whole phrase is one
                                  ground-truth event (its strokes are matched to it)
============  ==================  ===========================================================

Ground-truth event intervals are the script's: nod/shake/lean/beats [start, end]; face touch and
arms crossed from the middle of the blend in to the middle of the blend out.

Outputs of :func:`generate_scene` in ``folder/<scene name>/``:

* ``video.mp4``: H.264 (yuv420p, crf 16), 640x360, at ``fps`` (25 by default; other rates
  render the same script at that rate: every motion is a function of time, so a scene at 60
  fps shows what the 25 fps one shows, sampled more often -- the yardstick for measures that
  must not depend on the frame rate).
* ``gt_frames.parquet``: one row per frame and person in frame: ``frame``, ``t_s``,
  ``shot_id``, ``track_id`` (ground-truth track: one person within one shot, numbered in
  order of appearance like the pipeline's), ``person`` (the scene's person), ``bbox_px``
  (x1, y1, x2, y2 of the rendered silhouette, clipped to the image), ``visible_ratio`` (the
  silhouette's share not hidden by another person), ``counted`` (the person is to be found:
  visible_ratio >= 0.25 and >= 6 visible joints), ``joints3d_m`` (the 24 SMPL joints of
  ``pmrr_model.constants.SMPL_JOINT_NAMES``, camera frame, 24 x 3 flattened), ``joints2d_px``
  (their projections, 24 x 2), ``visible`` (24 bools: inside the image and not behind another
  person's surface in the rendered depth buffer; self-occlusion is not modelled),
  ``joints49_m`` (the 49 joints of the ``smpl`` table, for the analytics), ``betas``,
  ``body_pose``, ``global_orient`` (camera frame) and ``transl_m``: the body model with these
  parameters plus ``transl_m`` gives the rendered vertices (for PVE).
* ``gt_events.parquet``: the script's events: ``event_type``, ``track_id``, ``person``,
  ``start_s``, ``end_s``.
* ``scene.json``: the spec, the camera, the generator version and seed.

What the project's analytics make of the ground-truth bodies (:func:`ground_truth_analytics`)
is not stored: it follows the analytics code, which the scenes' cache key does not know, so it
is computed each time a scene is scored.

Deterministic: every random choice comes from ``numpy.random.default_rng`` seeded by the seed
and the scene name, and the video is encoded single-threaded. ``GENERATOR_VERSION`` changes
whenever the output would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from pmrr_model.constants import JOINT_NAMES, SMPL_JOINT_NAMES
from pmrr_model.crop import default_focal_px

GENERATOR_VERSION = "1"
DEFAULT_SEED = 0
FPS = 25.0  # the default rate; the sway's noise is drawn on this grid at every rate
SIZE_HW = (360, 640)
FOCAL_PX = default_focal_px(SIZE_HW)
SCENE_KINDS = ("medium", "interview", "closeup", "occlusion", "cut", "still")
BACKGROUNDS = ("coffee", "rocket", "chelsea")

EVENT_OF_ACTION = {
    "nod": "nod",
    "shake": "shake",
    "hand_to_face": "face_touch",
    "arms_crossed": "arms_crossed",
    "lean": "posture_shift",
    "beats": "gesture_stroke",
}
HOLD_BLEND_S = 0.3  # blend in/out of held poses (face touch, arms crossed, gesture space)
MIN_VISIBLE_RATIO = 0.25
MIN_VISIBLE_JOINTS = 6


@dataclass(frozen=True)
class Action:
    kind: str  # a key of EVENT_OF_ACTION
    start_s: float
    end_s: float
    amplitude: float = 0.0  # degrees (nod, shake: peak; lean: change)
    frequency_hz: float = 0.0  # nod, shake: oscillation; beats: beats per second


@dataclass(frozen=True)
class PersonSpec:
    person: int  # the scene's person number
    yaw_deg: float  # heading: 0 faces the camera, + turns the face toward image right
    position: tuple[float, float, float]  # camera frame (m) of the body model's origin
    actions: tuple[Action, ...] = ()
    sway_deg: float = 0.8  # amplitude of the slow random trunk / head sway


@dataclass(frozen=True)
class ShotSpec:
    start_s: float
    end_s: float
    background: str
    people: tuple[PersonSpec, ...]


@dataclass(frozen=True)
class SceneSpec:
    name: str  # also the kind
    description: str
    shots: tuple[ShotSpec, ...]

    @property
    def duration_s(self) -> float:
        return self.shots[-1].end_s

    def n_frames(self, fps: float = FPS) -> int:
        return int(round(self.duration_s * fps))


# ---------------------------------------------------------------- scripts


def _medium_actions(duration: float) -> tuple[Action, ...]:
    """Every behaviour once, in a order that fits ``duration`` (>= 4 s: nod, lean, touch)."""
    acts = [
        Action("nod", 0.6, 2.0, 10.0, 2.0),
        Action("lean", 2.3, 2.9, 15.0),
        Action("hand_to_face", 3.2, 4.8),
    ]
    if duration >= 12:
        acts += [
            Action("lean", 5.2, 5.8, -15.0),
            Action("shake", 6.2, 7.6, 15.0, 2.5),
            Action("beats", 8.0, 10.0, 0.0, 2.0),
            Action("arms_crossed", 10.4, 12.0),
        ]
    return tuple(a for a in acts if a.end_s <= duration - 0.3)


def scene_specs(quick: bool = False) -> list[SceneSpec]:
    """The benchmark's scenes; ``quick``: fewer and shorter (the CI version)."""
    medium_len = 5.5 if quick else 12.8
    medium = SceneSpec(
        "medium",
        "one person seated, medium shot; nod, lean, face touch (+ shake, beats, arms crossed)",
        (
            ShotSpec(
                0.0,
                medium_len,
                "coffee",
                (PersonSpec(0, 20.0, (0.05, 0.3, 2.6), _medium_actions(medium_len)),),
            ),
        ),
    )
    still_len = 3.0 if quick else 10.0
    still = SceneSpec(
        "still",
        "one person listening still (sway only)",
        (ShotSpec(0.0, still_len, "rocket", (PersonSpec(0, -15.0, (-0.1, 0.3, 2.6), ()),)),),
    )
    interview_len = 3.2 if quick else 10.0
    a_actions = [Action("nod", 0.8, 2.2, 10.0, 2.0)]
    b_actions = [Action("beats", 0.6, 2.8, 0.0, 2.0)]
    if not quick:
        a_actions += [Action("lean", 4.0, 4.6, 12.0), Action("hand_to_face", 6.5, 8.3)]
        b_actions += [Action("shake", 4.2, 5.6, 15.0, 2.5), Action("arms_crossed", 6.2, 9.2)]
    interview = SceneSpec(
        "interview",
        "two people seated facing each other at an angle",
        (
            ShotSpec(
                0.0,
                interview_len,
                "coffee",
                (
                    PersonSpec(0, 50.0, (-0.8, 0.3, 3.2), tuple(a_actions)),
                    PersonSpec(1, -50.0, (0.8, 0.3, 3.4), tuple(b_actions)),
                ),
            ),
        ),
    )
    if quick:
        return [medium, interview, still]
    closeup = SceneSpec(
        "closeup",
        "head-and-shoulders close-up, body cut at the chest",
        (
            ShotSpec(
                0.0,
                8.0,
                "chelsea",
                (
                    PersonSpec(
                        0,
                        10.0,
                        (0.0, 0.62, 1.25),
                        (
                            Action("nod", 0.6, 2.0, 10.0, 2.0),
                            Action("shake", 2.6, 4.0, 15.0, 2.5),
                            Action("hand_to_face", 4.8, 6.6),
                        ),
                    ),
                ),
            ),
        ),
    )
    occlusion = SceneSpec(
        "occlusion",
        "two people, the nearer one hiding part of the one behind",
        (
            ShotSpec(
                0.0,
                8.0,
                "rocket",
                (
                    PersonSpec(
                        0,
                        -25.0,
                        (0.3, 0.35, 2.4),
                        (Action("nod", 0.8, 2.2, 10.0, 2.0), Action("lean", 4.5, 5.1, 15.0)),
                    ),
                    PersonSpec(
                        1,
                        25.0,
                        (-0.25, 0.25, 3.6),
                        (Action("beats", 1.0, 3.2, 0.0, 2.0), Action("shake", 5.0, 6.4, 15.0, 2.5)),
                    ),
                ),
            ),
        ),
    )
    cut = SceneSpec(
        "cut",
        "hard cut from a one-person medium shot to a two-person wide shot",
        (
            ShotSpec(
                0.0,
                4.0,
                "chelsea",
                (PersonSpec(0, 15.0, (0.0, 0.3, 2.6), (Action("nod", 0.8, 2.2, 10.0, 2.0),)),),
            ),
            ShotSpec(
                4.0,
                8.0,
                "coffee",
                (
                    PersonSpec(0, 55.0, (-0.9, 0.3, 3.5), (Action("shake", 5.0, 6.4, 15.0, 2.5),)),
                    PersonSpec(1, -55.0, (0.9, 0.3, 3.5), (Action("beats", 4.8, 7.0, 0.0, 2.0),)),
                ),
            ),
        ),
    )
    return [medium, interview, closeup, occlusion, cut, still]


# ---------------------------------------------------------------- posing


def _smooth_step(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _window(t: np.ndarray, start: float, end: float, fade: float) -> np.ndarray:
    """0 -> 1 over ``fade`` s from ``start``, 1 -> 0 over ``fade`` s up to ``end``."""
    return np.minimum(_smooth_step((t - start) / fade), _smooth_step((end - t) / fade))


@dataclass
class KeyPoses:
    """Arm poses (69,) of the script, solved once per body model by inverse kinematics."""

    lap: np.ndarray
    touch: np.ndarray
    crossed: np.ndarray
    ready: np.ndarray
    beat_down: np.ndarray
    seated: np.ndarray = field(default_factory=lambda: np.zeros(69))


_KEY_POSES: dict[str, KeyPoses] = {}


def key_poses(body) -> KeyPoses:
    """Seated legs (hips and knees at 90 deg) and the arm poses for resting on the lap, touching
    the chin, arms folded and gesturing (targets in the body model's frame: y up, facing +z)."""
    key = str(getattr(body, "asset_id", id(body)))
    if key in _KEY_POSES:
        return _KEY_POSES[key]
    from analytics import synthetic

    seated = synthetic.pose(
        left_hip=(-90, 0, 0), right_hip=(-90, 0, 0), left_knee=(90, 0, 0), right_knee=(90, 0, 0)
    )
    base = seated + synthetic.RELAXED
    rest = synthetic.forward(body, seated).joints[0].numpy()
    nose = rest[JOINT_NAMES.index("OP Nose")]
    neck = rest[JOINT_NAMES.index("OP Neck")]
    pelvis = rest[JOINT_NAMES.index("OP MidHip")]
    up = neck[1] - pelvis[1]  # trunk height, scales the targets to the body

    def solve(targets):
        return synthetic.solve_hands(body, targets, base_pose=base, iters=250)

    lap = solve({"left": (0.17, pelvis[1] + 0.16, 0.33), "right": (-0.17, pelvis[1] + 0.16, 0.33)})
    touch = solve(
        {
            "left": (0.17, pelvis[1] + 0.16, 0.33),
            "right": (nose[0] - 0.02, nose[1] - 0.07, nose[2] - 0.05),
        }
    )
    belly = pelvis[1] + 0.42 * up
    crossed = solve(
        {"left": (-0.15, belly, pelvis[2] + 0.22), "right": (0.15, belly + 0.04, pelvis[2] + 0.26)}
    )
    chest = pelvis[1] + 0.55 * up
    ready = solve({"left": (0.17, pelvis[1] + 0.16, 0.33), "right": (-0.2, chest, 0.38)})
    beat_down = solve({"left": (0.17, pelvis[1] + 0.16, 0.33), "right": (-0.2, chest - 0.12, 0.4)})
    poses = KeyPoses(lap, touch, crossed, ready, beat_down, seated)
    _KEY_POSES[key] = poses
    return poses


def _sway(rng: np.random.Generator, t: np.ndarray, amplitude_deg: float) -> np.ndarray:
    """Slow random signal (about 0.2 Hz) at the times ``t`` (s, from the shot's first frame),
    peak ~ amplitude_deg. Drawn on the :data:`FPS` grid and interpolated, so every frame rate
    shows the same sway (at :data:`FPS` the samples are the grid's own; past the grid's last
    sample, a fraction of a frame before the shot ends, it holds)."""
    pos = (t - t[0]) * FPS
    n = int(np.floor(pos[-1] + 1e-6)) + 1
    noise = rng.normal(size=n + 200)
    kernel = np.hanning(61)
    s = np.convolve(noise, kernel / kernel.sum(), "same")[100 : 100 + n]
    return amplitude_deg * np.interp(pos, np.arange(n), s) / max(np.abs(s).max(), 1e-9)


def person_motion(
    spec: PersonSpec, t: np.ndarray, poses: KeyPoses, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Script -> (body_pose (T, 69), global_orient (T, 3)) in the body model's frame."""
    n = len(t)
    body_pose = np.repeat(poses.lap[None], n, 0)
    pitch = np.zeros(n)  # head, degrees
    yaw = np.zeros(n)
    lean = np.zeros(n)
    for a in spec.actions:
        if a.kind in ("nod", "shake"):
            wave = a.amplitude * np.sin(2 * np.pi * a.frequency_hz * (t - a.start_s))
            wave *= _window(t, a.start_s, a.end_s, 0.1) * ((t >= a.start_s) & (t <= a.end_s))
            if a.kind == "nod":
                pitch += wave
            else:
                yaw += wave
        elif a.kind == "lean":
            lean += a.amplitude * _smooth_step((t - a.start_s) / (a.end_s - a.start_s))
        elif a.kind in ("hand_to_face", "arms_crossed"):
            target = poses.touch if a.kind == "hand_to_face" else poses.crossed
            w = _window(t, a.start_s, a.end_s, HOLD_BLEND_S)
            body_pose += w[:, None] * (target - poses.lap)[None]
        elif a.kind == "beats":
            w = _window(t, a.start_s, a.end_s, HOLD_BLEND_S)
            body_pose += w[:, None] * (poses.ready - poses.lap)[None]
            period = 1.0 / a.frequency_hz
            first = a.start_s + HOLD_BLEND_S + 0.1
            k = 0
            while first + (k + 1) * period <= a.end_s - HOLD_BLEND_S:
                b0 = first + k * period
                phase = np.clip((t - b0) / (0.6 * period), 0, 1)  # a beat: down and back up
                pulse = np.sin(np.pi * phase) ** 2
                body_pose += pulse[:, None] * (poses.beat_down - poses.ready)[None]
                k += 1
        else:
            raise ValueError(f"unknown action {a.kind!r}")
    sway_p = _sway(rng, t, spec.sway_deg)
    sway_r = _sway(rng, t, 0.6 * spec.sway_deg)
    head_sway = _sway(rng, t, spec.sway_deg)
    k_head, k_lhip, k_rhip = (
        SMPL_JOINT_NAMES.index(j) - 1 for j in ("head", "left_hip", "right_hip")
    )
    body_pose[:, 3 * k_head] += np.radians(pitch + head_sway)
    body_pose[:, 3 * k_head + 1] += np.radians(yaw)
    trunk = np.radians(lean + sway_p)
    for k in (k_lhip, k_rhip):  # the hips turn back what the root turns: legs stay put
        body_pose[:, 3 * k] -= trunk
    global_orient = np.c_[trunk, np.zeros(n), np.radians(sway_r)]
    return body_pose, global_orient


# ---------------------------------------------------------------- appearance

SKIN = ((0.94, 0.78, 0.66), (0.80, 0.60, 0.45), (0.55, 0.38, 0.26), (0.36, 0.24, 0.16))
SHIRTS = ((0.20, 0.30, 0.55), (0.60, 0.15, 0.15), (0.85, 0.85, 0.80), (0.25, 0.45, 0.30))
TROUSERS = ((0.15, 0.15, 0.18), (0.30, 0.25, 0.20), (0.20, 0.22, 0.35))
HAIR = ((0.08, 0.06, 0.05), (0.35, 0.22, 0.10), (0.55, 0.50, 0.45))


@lru_cache(maxsize=2)
def _parts(body) -> dict[str, np.ndarray]:
    """Vertex masks of the body parts, from the skinning weights and the rest pose."""
    from analytics import synthetic

    weights = body.smpl.lbs_weights.numpy()
    part = weights.argmax(1)
    out = synthetic.forward(body, np.zeros(69))
    v = out.vertices[0].numpy()
    j = out.joints[0].numpy()
    names = SMPL_JOINT_NAMES
    idx = {n: names.index(n) for n in names}
    head = np.isin(part, [idx["head"], idx["neck"]])
    hands = np.isin(
        part, [idx[n] for n in ("left_wrist", "right_wrist", "left_hand", "right_hand")]
    )
    legs = np.isin(
        part,
        [idx[n] for n in ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee")],
    )
    feet = np.isin(part, [idx[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")])
    eye_l, eye_r = j[JOINT_NAMES.index("Left Eye")], j[JOINT_NAMES.index("Right Eye")]
    nose = j[JOINT_NAMES.index("OP Nose")]
    ears = (j[JOINT_NAMES.index("Left Ear")] + j[JOINT_NAMES.index("Right Ear")]) / 2
    eyes = head & (
        (np.linalg.norm(v - eye_l, axis=1) < 0.011) | (np.linalg.norm(v - eye_r, axis=1) < 0.011)
    )
    mouth_c = nose + np.array([0.0, -0.045, -0.005])
    mouth = head & (np.abs(v[:, 0] - mouth_c[0]) < 0.022) & (np.abs(v[:, 1] - mouth_c[1]) < 0.006)
    mouth &= v[:, 2] > ears[2]
    hair = head & (
        (v[:, 1] > eye_l[1] + 0.04) | ((v[:, 2] < ears[2] - 0.01) & (v[:, 1] > ears[1] - 0.06))
    )
    brows = head & ~hair & (np.abs(v[:, 1] - (eye_l[1] + 0.022)) < 0.005)
    brows &= (np.abs(np.abs(v[:, 0]) - abs(eye_l[0])) < 0.02) & (v[:, 2] > ears[2])
    return {
        "skin": head | hands,
        "legs": legs,
        "feet": feet,
        "hair": hair,
        "eyes": eyes | brows,
        "mouth": mouth,
    }


def vertex_colors(body, rng: np.random.Generator) -> np.ndarray:
    """(V, 4) uint8 RGBA: shirt everywhere, then trousers, shoes, skin, hair, eyes, mouth."""
    parts = _parts(body)
    skin = np.array(SKIN[rng.integers(len(SKIN))])
    colors = np.tile(np.array(SHIRTS[rng.integers(len(SHIRTS))]), (body.num_vertices, 1))
    colors[parts["legs"]] = TROUSERS[rng.integers(len(TROUSERS))]
    colors[parts["feet"]] = (0.1, 0.08, 0.07)
    colors[parts["skin"]] = skin
    colors[parts["hair"]] = HAIR[rng.integers(len(HAIR))]
    colors[parts["eyes"]] = (0.12, 0.08, 0.06)
    colors[parts["mouth"]] = skin * np.array([0.7, 0.4, 0.4])
    return np.c_[np.round(colors * 255), np.full(len(colors), 255)].astype(np.uint8)


@lru_cache(maxsize=8)
def background(name: str, size_hw: tuple[int, int] = SIZE_HW) -> np.ndarray:
    """A scikit-image photo without people, scaled to cover ``size_hw`` and centre-cropped."""
    import cv2
    import skimage.data

    image = getattr(skimage.data, name)()[..., :3]
    h, w = size_hw
    scale = max(h / image.shape[0], w / image.shape[1])
    resized = cv2.resize(
        image,
        (int(np.ceil(image.shape[1] * scale)), int(np.ceil(image.shape[0] * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
    )
    y0 = (resized.shape[0] - h) // 2
    x0 = (resized.shape[1] - w) // 2
    return np.ascontiguousarray(resized[y0 : y0 + h, x0 : x0 + w])


# ---------------------------------------------------------------- rendering


def render_people(
    vertices: list[np.ndarray], faces: np.ndarray, colors: list[np.ndarray], focal_px: float,
    size_hw: tuple[int, int] = SIZE_HW,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Each person rendered alone (camera frame vertices, per-vertex RGBA), composited by
    depth -> (rgb (H, W, 3) uint8, depth of each person (N, H, W) with inf where absent,
    id buffer (H, W) int: the front person, -1 for background)."""
    from pmrr_model.render.pyrender_backend import camera_mesh, render_meshes

    h, w = size_hw
    rgbs, depths = [], []
    for verts, rgba in zip(vertices, colors, strict=True):
        mesh = camera_mesh(verts, faces, vertex_colors=rgba)
        color, depth = render_meshes([mesh], focal_px, size_hw, ambient=0.45, key_light=2.5)
        rgbs.append(np.asarray(color[..., :3]))
        depths.append(np.where(depth > 0, depth, np.inf))
    if not depths:
        return np.zeros((h, w, 3), np.uint8), np.zeros((0, h, w)), np.full((h, w), -1)
    depth = np.stack(depths)
    front = depth.argmin(0)
    ids = np.where(np.isfinite(depth.min(0)), front, -1)
    rgb = np.zeros((h, w, 3), np.uint8)
    for k, image in enumerate(rgbs):
        rgb[ids == k] = image[ids == k]
    return rgb, depth, ids


def project(points: np.ndarray, focal_px: float, size_hw: tuple[int, int] = SIZE_HW) -> np.ndarray:
    """Camera-frame points (..., 3) -> pixels (..., 2) (principal point at the image centre)."""
    h, w = size_hw
    return focal_px * points[..., :2] / points[..., 2:3] + np.array([w / 2.0, h / 2.0])


def visible_joints(
    joints_cam: np.ndarray, joints_px: np.ndarray, person: int, depth: np.ndarray,
    size_hw: tuple[int, int] = SIZE_HW,
) -> np.ndarray:  # fmt: skip
    """(J,) bool: inside the image and no other person's surface in front of the joint."""
    h, w = size_hw
    x = np.floor(joints_px[:, 0]).astype(int)
    y = np.floor(joints_px[:, 1]).astype(int)
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h) & (joints_cam[:, 2] > 0)
    out = inside.copy()
    others = [k for k in range(len(depth)) if k != person]
    for j in np.flatnonzero(inside):
        for k in others:
            if depth[k, y[j], x[j]] < joints_cam[j, 2]:
                out[j] = False
    return out


# ---------------------------------------------------------------- the scene


def _rng(seed: int, *names: str) -> np.random.Generator:
    digest = hashlib.sha256("/".join([str(seed), *names]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _camera_params(body, betas, body_pose, global_orient, yaw_deg, position):
    """Body-model parameters in the camera frame: (global_orient_cam (T, 3), transl (T, 3),
    joints49 (T, 49, 3), smpl joints (T, 24, 3), vertices (T, V, 3)), all camera frame."""
    import torch
    from scipy.spatial.transform import Rotation

    from analytics import synthetic

    n = len(body_pose)
    with torch.no_grad():
        out = body(
            betas=torch.as_tensor(np.repeat(betas[None], n, 0), dtype=torch.float32),
            body_pose=torch.as_tensor(body_pose, dtype=torch.float32),
            global_orient=torch.as_tensor(global_orient, dtype=torch.float32),
        )
    verts = synthetic.to_camera(out.vertices.numpy(), yaw_deg, position)
    joints = synthetic.to_camera(out.joints.numpy(), yaw_deg, position)
    smpl_joints = synthetic.to_camera(out.smpl_joints.numpy(), yaw_deg, position)
    r_cam = Rotation.from_matrix(
        np.diag([1.0, -1.0, -1.0]) @ Rotation.from_euler("y", yaw_deg, degrees=True).as_matrix()
    )
    go_cam = (r_cam * Rotation.from_rotvec(global_orient)).as_rotvec()
    with torch.no_grad():
        rotated = body(
            betas=torch.as_tensor(np.repeat(betas[None], n, 0), dtype=torch.float32),
            body_pose=torch.as_tensor(body_pose, dtype=torch.float32),
            global_orient=torch.as_tensor(go_cam, dtype=torch.float32),
        )
    transl = (smpl_joints - rotated.smpl_joints.numpy().astype(np.float64)).mean(axis=1)
    return go_cam, transl, joints, smpl_joints, verts


def _write_video(frames: np.ndarray, path: Path, fps: float = FPS) -> None:
    """(T, H, W, 3) uint8 -> H.264 mp4 at ``fps``, single-threaded (bit-exact reruns)."""
    h, w = frames.shape[1:3]
    tmp = path.with_suffix(".tmp.mp4")
    cmd = [
        "ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-preset", "medium",
        "-crf", "16", "-pix_fmt", "yuv420p", "-threads", "1", "-bitexact",
        "-movflags", "+faststart", str(tmp),
    ]  # fmt: skip
    subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), check=True)
    tmp.replace(path)


def generate_scene(
    spec: SceneSpec, folder: Path, body, seed: int = DEFAULT_SEED, fps: float = FPS
) -> Path:
    """Render ``spec`` at ``fps`` and write its video and ground truth under
    ``folder/spec.name``; returns that folder. Rewrites it when called again (callers cache by
    ``cache_key``)."""
    out_dir = Path(folder) / spec.name
    out_dir.mkdir(parents=True, exist_ok=True)
    poses = key_poses(body)
    n = spec.n_frames(fps)
    t_all = np.arange(n) / fps
    faces = body.faces
    frames = np.zeros((n, *SIZE_HW, 3), np.uint8)
    rows: list[dict] = []
    events: list[dict] = []
    track = 0
    for shot_id, shot in enumerate(spec.shots):
        sel = np.flatnonzero((t_all >= shot.start_s - 1e-9) & (t_all < shot.end_s - 1e-9))
        t = t_all[sel]
        people = []
        for p in shot.people:
            rng = _rng(seed, spec.name, str(p.person))  # same person, same look, every shot
            betas = np.clip(rng.normal(0.0, 0.8, 10), -1.5, 1.5)
            colors = vertex_colors(body, rng)
            motion_rng = _rng(seed, spec.name, str(p.person), str(shot_id))
            body_pose, go = person_motion(p, t, poses, motion_rng)
            go_cam, transl, j49, j24, verts = _camera_params(
                body, betas, body_pose, go, p.yaw_deg, p.position
            )
            people.append(
                dict(spec=p, betas=betas, colors=colors, body_pose=body_pose, go=go_cam,
                     transl=transl, j49=j49, j24=j24, verts=verts, track=None)
            )  # fmt: skip
        bg = background(shot.background)
        noise_rng = _rng(seed, spec.name, "noise", str(shot_id))
        for i, frame in enumerate(sel):
            rgb, depth, ids = render_people(
                [p["verts"][i] for p in people], faces, [p["colors"] for p in people], FOCAL_PX
            )
            image = np.where((ids >= 0)[..., None], rgb, bg).astype(np.float32)
            image += noise_rng.normal(0.0, 2.0, image.shape)
            frames[frame] = image.clip(0, 255).astype(np.uint8)
            for k, p in enumerate(people):
                own = np.isfinite(depth[k])
                if not own.any():
                    continue
                ys, xs = np.nonzero(own)
                box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                visible_ratio = float((ids == k).sum() / own.sum())
                j24 = p["j24"][i]
                j2d = project(j24, FOCAL_PX)
                vis = visible_joints(j24, j2d, k, depth)
                if p["track"] is None:
                    p["track"] = track
                    track += 1
                rows.append(
                    {
                        "frame": int(frame),
                        "t_s": float(frame / fps),
                        "shot_id": shot_id,
                        "track_id": p["track"],
                        "person": p["spec"].person,
                        "bbox_px": np.asarray(box, np.float32),
                        "visible_ratio": visible_ratio,
                        "counted": bool(
                            visible_ratio >= MIN_VISIBLE_RATIO and vis.sum() >= MIN_VISIBLE_JOINTS
                        ),
                        "joints3d_m": j24.reshape(-1).astype(np.float32),
                        "joints2d_px": j2d.reshape(-1).astype(np.float32),
                        "visible": vis,
                        "joints49_m": p["j49"][i].reshape(-1).astype(np.float32),
                        "betas": p["betas"].astype(np.float32),
                        "body_pose": p["body_pose"][i].astype(np.float32),
                        "global_orient": p["go"][i].astype(np.float32),
                        "transl_m": p["transl"][i].astype(np.float32),
                    }
                )
        for p in people:
            for a in p["spec"].actions:
                if p["track"] is None:
                    continue
                start, end = a.start_s, a.end_s
                if a.kind in ("hand_to_face", "arms_crossed"):
                    start, end = start + HOLD_BLEND_S / 2, end - HOLD_BLEND_S / 2
                events.append(
                    {
                        "event_type": EVENT_OF_ACTION[a.kind],
                        "track_id": p["track"],
                        "person": p["spec"].person,
                        "start_s": float(start),
                        "end_s": float(end),
                        "amplitude": float(a.amplitude),
                    }
                )
    _write_video(frames, out_dir / "video.mp4", fps)
    gt = pd.DataFrame(rows)
    gt.to_parquet(out_dir / "gt_frames.parquet", index=False)
    pd.DataFrame(
        events, columns=["event_type", "track_id", "person", "start_s", "end_s", "amplitude"]
    ).to_parquet(out_dir / "gt_events.parquet", index=False)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "fps": fps,
        "size_hw": list(SIZE_HW),
        "focal_px": FOCAL_PX,
        "n_frames": n,
        "assets": str(getattr(body, "asset_id", "")),
        "spec": dataclasses.asdict(spec),
    }
    (out_dir / "scene.json").write_text(json.dumps(meta, indent=1))
    return out_dir


def ground_truth_analytics(gt: pd.DataFrame, fps: float, n_frames: int, body) -> dict:
    """The project's analytics (``analytics.compute_video_features``, calibrated on the same body
    model) on the ground-truth joints of ``gt_frames.parquet``, with ``track_id`` the
    ground-truth track: ``features_frames`` (measure errors of the pipeline then isolate
    estimation error) and ``events`` (what a perfect estimator would give)."""
    from analytics.calibration import neutral_from_body_model
    from analytics.pipeline import compute_video_features

    smpl = pd.DataFrame(
        {
            "video_id": "ground-truth",
            "track_id": gt["track_id"].astype(np.int32),
            "frame": gt["frame"].astype(np.int64),
            "t_s": gt["t_s"],
            "joints3d_m": gt["joints49_m"],
        }
    )
    return compute_video_features(smpl, fps, n_frames, neutral=neutral_from_body_model(body))


def cache_key(quick: bool, seed: int = DEFAULT_SEED, assets: str = "", fps: float = FPS) -> str:
    """Folder name of a generated scene set: generator version, seed, quick/full, the frame
    rate where it is not the default, and a hash of the specs and the body-model assets (a
    change of any makes a new folder)."""
    specs = json.dumps([dataclasses.asdict(s) for s in scene_specs(quick)], sort_keys=True)
    digest = hashlib.sha256(f"{specs}|{assets}".encode()).hexdigest()[:10]
    rate = "" if fps == FPS else f"-{fps:g}fps"
    return f"v{GENERATOR_VERSION}-seed{seed}-{'quick' if quick else 'full'}{rate}-{digest}"


def generate_scenes(
    folder: Path, body, quick: bool = False, seed: int = DEFAULT_SEED,
    names: list[str] | None = None, fps: float = FPS,
) -> list[Path]:  # fmt: skip
    """Every scene of ``scene_specs(quick)`` (or those in ``names``) under ``folder`` at
    ``fps``, each made only when its ``scene.json`` is missing (a finished scene writes it
    last)."""
    out = []
    for spec in scene_specs(quick):
        if names and spec.name not in names:
            continue
        scene_dir = Path(folder) / spec.name
        if not (scene_dir / "scene.json").is_file():
            generate_scene(spec, folder, body, seed, fps)
        out.append(scene_dir)
    return out
