"""Temporal smoothing of each track's SMPL sequence.

Rotations are smoothed on the rotation manifold, never per axis-angle component (axis-angle is
discontinuous at pi and its components do not average to the mean rotation):

- **offline, zero lag** (default for batch runs): unit quaternions, made sign-continuous along
  time (q and -q are the same rotation), filtered with a symmetric Gaussian kernel and
  re-normalised. A normalised weighted sum of sign-aligned quaternions is the chordal L2 mean of
  the rotations in the window, so each output is a proper weighted rotation average and the
  symmetric kernel adds no lag.
- **online** (:class:`OneEuroFilter`, :class:`OneEuroRotationFilter`): the One-Euro filter
  (Casiez et al., CHI 2012) -- an exponential smoother whose cutoff rises with speed, i.e. low
  jitter when still and low lag when moving. For rotations the exponential step is a SLERP from
  the previous estimate towards the new sample, with speed measured as angular velocity.

Translations and joints are Euclidean and use the same kernels per coordinate. Shape (betas)
is a property of the person, so it is averaged over the track (weighted by confidence).
Sequences are smoothed per track and per run of consecutive frames: a gap (lost person) is not
bridged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from tasks.sequence import SmplSequence

# ----------------------------------------------------------------------------- rotations ----


def axis_angle_to_quat(aa: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 4) as (x, y, z, w)."""
    flat = np.asarray(aa, np.float64).reshape(-1, 3)
    return Rotation.from_rotvec(flat).as_quat().reshape(*np.shape(aa)[:-1], 4)


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    flat = np.asarray(q, np.float64).reshape(-1, 4)
    return Rotation.from_quat(flat).as_rotvec().reshape(*np.shape(q)[:-1], 3)


def sign_continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternions along axis 0 so consecutive ones have a non-negative dot product."""
    q = np.array(q, np.float64, copy=True)
    for t in range(1, q.shape[0]):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t][flip] *= -1
    return q


def smooth_rotations(aa: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Zero-lag Gaussian rotation smoothing; ``aa`` (T, ..., 3) axis-angle, time first."""
    if sigma_frames <= 0 or aa.shape[0] < 3:
        return np.asarray(aa)
    q = sign_continuous(axis_angle_to_quat(aa))
    q = gaussian_filter1d(q, sigma_frames, axis=0, mode="nearest")
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return quat_to_axis_angle(q).astype(np.asarray(aa).dtype)


def smooth_vectors(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Zero-lag Gaussian smoothing of a Euclidean series, time first."""
    if sigma_frames <= 0 or x.shape[0] < 3:
        return np.asarray(x)
    return gaussian_filter1d(
        np.asarray(x, np.float64), sigma_frames, axis=0, mode="nearest"
    ).astype(np.asarray(x).dtype)


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-row spherical interpolation of unit quaternions (..., 4), ``t`` broadcast (..., 1)."""
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot).clip(-1.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6
    w0 = np.where(small, 1 - t, np.sin((1 - t) * theta) / np.where(small, 1, sin))
    w1 = np.where(small, t, np.sin(t * theta) / np.where(small, 1, sin))
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


# ------------------------------------------------------------------------------ One-Euro ----


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


@dataclass
class OneEuroFilter:
    """Online One-Euro filter over vectors; call once per frame, in order."""

    fps: float
    min_cutoff: float = 1.0  # Hz: smoothing when still
    beta: float = 0.05  # cutoff increase per unit/s of speed: less lag when moving
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        dt = 1.0 / self.fps
        if self._x is None:
            self._x, self._dx = x, np.zeros_like(x)
            return x
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        return self._x


@dataclass
class OneEuroRotationFilter:
    """Online One-Euro filter over rotations (..., 3 axis-angle): SLERP steps, angular speed."""

    fps: float
    min_cutoff: float = 1.0
    beta: float = 0.05
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        self._q: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def __call__(self, aa: np.ndarray) -> np.ndarray:
        q = axis_angle_to_quat(aa)
        dt = 1.0 / self.fps
        if self._q is None:
            self._q, self._speed = q, np.zeros(q.shape[:-1] + (1,))
            return np.asarray(aa, np.float64)
        dot = np.abs(np.sum(self._q * q, axis=-1, keepdims=True)).clip(0, 1)
        speed = 2 * np.arccos(dot) / dt  # rad/s between estimate and sample
        self._speed = self._speed + _alpha(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * self._speed
        self._q = slerp(self._q, q, _alpha(cutoff, dt))
        return quat_to_axis_angle(self._q)


# ----------------------------------------------------------------------------- sequences ----


def _runs(frames: np.ndarray) -> list[np.ndarray]:
    """Index arrays of runs of consecutive frames."""
    if len(frames) == 0:
        return []
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    return np.split(np.arange(len(frames)), breaks)


def smooth_sequence(
    seq: SmplSequence,
    fps: float,
    method: str = "offline",
    sigma_s: float = 0.08,
    min_cutoff: float = 1.0,
    beta: float = 0.05,
) -> SmplSequence:
    """Smooth every track of ``seq``; ``method`` is ``offline`` (Gaussian), ``online`` (One-Euro)
    or ``none``. Betas are averaged per track in every method."""
    if len(seq) == 0:
        return seq
    out = {
        name: np.array(getattr(seq, name), copy=True)
        for name in ("global_orient", "body_pose", "betas", "transl_m", "joints3d_m", "joints2d_px")
    }
    sigma = sigma_s * fps
    for track in np.unique(seq.track_id):
        rows = np.flatnonzero(seq.track_id == track)
        rows = rows[np.argsort(seq.frame[rows], kind="stable")]
        weights = np.clip(np.nan_to_num(seq.confidence[rows], nan=0.0), 1e-3, None)
        out["betas"][rows] = np.average(seq.betas[rows], axis=0, weights=weights)
        if method == "none":
            continue
        for run in _runs(seq.frame[rows]):
            r = rows[run]
            rot = np.concatenate([seq.global_orient[r], seq.body_pose[r]], axis=1).reshape(
                len(r), 24, 3
            )
            if method == "offline":
                rot = smooth_rotations(rot, sigma)
                for name in ("transl_m", "joints3d_m", "joints2d_px"):
                    out[name][r] = smooth_vectors(getattr(seq, name)[r], sigma)
            elif method == "online":
                rot = _online(rot, OneEuroRotationFilter(fps, min_cutoff, beta))
                for name in ("transl_m", "joints3d_m", "joints2d_px"):
                    out[name][r] = _online(
                        getattr(seq, name)[r], OneEuroFilter(fps, min_cutoff, beta)
                    )
            else:
                raise ValueError(f"unknown smoothing method {method!r}")
            out["global_orient"][r] = rot[:, 0]
            out["body_pose"][r] = rot[:, 1:].reshape(len(r), 69)
    return replace(seq, **out, smoothed=method != "none")


def _online(x: np.ndarray, filt) -> np.ndarray:
    return np.stack([filt(sample) for sample in x]).astype(x.dtype)
