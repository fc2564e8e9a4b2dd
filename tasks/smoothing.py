"""Temporal smoothing of each track's SMPL sequence.

Rotations are smoothed on the rotation manifold, never per axis-angle component (axis-angle is
discontinuous at pi and its components do not average to the mean rotation):

- **offline, zero lag** (default for batch runs): unit quaternions, made sign-continuous along
  time (q and -q are the same rotation), filtered with a symmetric Gaussian kernel and
  re-normalised. A normalised weighted sum of sign-aligned quaternions is the chordal L2 mean of
  the rotations in the window, so each output is a proper weighted rotation average and the
  symmetric kernel adds no lag.
- **adaptive kernel width** (the offline default): one fixed width cannot suit every joint of
  every video -- wide enough to remove the jitter of a still torso, it flattens a fast hand
  gesture (at 2 Hz a 0.08 s Gaussian keeps 60 % of the amplitude, so the per-frame error grows
  several-fold). So each joint (each series) gets its own width from a grid: the noise level is
  estimated by generalised cross-validation, Stein's unbiased risk estimate gives the expected
  per-frame error of every width, and the *widest* width whose expected error stays below
  ``rho`` x the raw error is used. That maximises jitter removal under the constraint that
  smoothing must not make the per-frame error worse (tests/test_smoothing.py measures both).
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
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import gaussian_filter1d

from analytics.clock import even_clock
from pmrr_model.constants import SMPL_HEAD_CHAIN
from pmrr_model.geometry import (
    axis_angle_to_quaternion,
    quaternion_sign_continuous,
    quaternion_slerp,
    quaternion_to_axis_angle,
)
from tasks.sequence import SmplSequence

# ----------------------------------------------------------------------------- rotations ----
# Conversions live in pmrr_model.geometry (the project's one rotation module); quaternions are
# scalar-last (x, y, z, w) there, as scipy writes them.

MIN_SIGMA_FRAMES = 0.5  # below this a Gaussian kernel barely averages neighbours
#: The chain pelvis -> head (SMPL joints spine1, spine2, spine3, neck, head) is smoothed at most
#: this wide. Nods and shakes are 1-4 Hz (analytics.events.OSC_BAND_HZ) and a fit spreads them
#: over these five joints with a split that varies from frame to frame: judged one joint at a
#: time, each looked like noise, got the widest kernel (0.2 s) and a 10 degree nod came out as
#: 2 degrees. At 0.04 s a 3 Hz oscillation keeps 0.7 of its amplitude.
HEAD_CHAIN_MAX_SIGMA_S = 0.04
RISK_RATIO = 0.7  # expected per-frame error of the chosen width <= RISK_RATIO x the raw error
#: The adaptive widths are chosen on samples no denser than this (every k-th frame of faster
#: video, :func:`selection_stride`), then applied to every frame. Why: a fit's error is not
#: independent from frame to frame (each frame starts from the last), and the denser the
#: frames the more of that error the noise estimate took for motion. On the synthetic medium
#: shot rendered at 60 fps the chosen widths left a still person's wrists 5.9 mm of
#: high-frequency jitter (3.6 at 25 fps), which read as gesture strokes
#: (``pmrr eval --synthetic --fps 60``, docs/MEASUREMENTS.md). 25 fps (PAL) and 30 are as before.
SELECTION_RATE_HZ = 25.0
#: Smoothed parameters are re-posed this many rows at a time. Why not all at once: the float64
#: joints and their projection of every person-frame were ~1 GiB at once for an hour with two
#: people (``benchmarks/long_input.py``); a row's joints depend on that row alone.
REPOSE_ROWS = 8192


def _centre_weight(sigma: float) -> float:
    """Weight of the centre tap of scipy's discrete Gaussian (the smoother's diagonal)."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    return float(1.0 / np.exp(-0.5 * (x / sigma) ** 2).sum())


def sigma_grid(max_sigma_frames: float) -> np.ndarray:
    """Candidate kernel widths (frames), geometric from :data:`MIN_SIGMA_FRAMES` to the cap."""
    if max_sigma_frames <= MIN_SIGMA_FRAMES:
        return np.asarray([max_sigma_frames])
    n = int(np.ceil(np.log(max_sigma_frames / MIN_SIGMA_FRAMES) / np.log(1.25))) + 1
    return np.geomspace(MIN_SIGMA_FRAMES, max_sigma_frames, n)


def adaptive_gaussian(
    x: np.ndarray, max_sigma_frames: float, rho: float = RISK_RATIO, stride: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian smoothing of ``x`` (T, K, D) with a width chosen per series k.

    For each candidate width s (smoother S_s, centre weight w_s), per series:
    ``rss_s = mean |x - S_s x|^2``; the noise variance is estimated at the GCV optimum,
    ``var = rss_s* / (1 - w_s*)``; Stein's unbiased risk estimate of the per-frame squared
    error is ``rss_s - var + 2 var w_s`` (the raw series has risk ``var``). The widest s with
    risk <= ``rho`` x ``var`` wins (the narrowest if none does). Returns (smoothed, sigmas).

    ``stride`` k > 1: only every k-th sample is an independent estimate and the others are
    interpolated between them (``estimate_every_k``). The widths are then chosen on those
    samples (``x[::k]``, widths / k) and applied to the whole series (widths x k): on the
    interpolated series the noise estimate sees straight stretches as signal, picked widths
    about half as wide, and let through the jitter that became false gesture events.
    """
    x = np.asarray(x, np.float64)
    if stride > 1 and x.shape[0] >= 3 * stride:
        _, sub = adaptive_gaussian(x[::stride], max_sigma_frames / stride, rho)
        sigmas = sub * stride
        out = np.empty_like(x)
        for width in np.unique(sigmas):
            series = sigmas == width
            out[:, series] = gaussian_filter1d(x[:, series], width, axis=0, mode="nearest")
        return out, sigmas
    grid = sigma_grid(max_sigma_frames)
    smoothed = np.stack([gaussian_filter1d(x, s, axis=0, mode="nearest") for s in grid])
    rss = ((smoothed - x[None]) ** 2).mean(axis=(1, 3))  # (S, K)
    w = np.asarray([_centre_weight(s) for s in grid])[:, None]
    best = np.argmin(rss / (1.0 - w) ** 2, axis=0)  # GCV
    var = np.take_along_axis(rss, best[None], 0)[0] / (1.0 - w[best, 0])
    risk = rss - var[None] + 2.0 * var[None] * w
    ok = risk <= rho * var[None] + 1e-15
    choice = np.where(ok.any(axis=0), np.argmax(ok * np.arange(len(grid))[:, None], axis=0), 0)
    out = np.take_along_axis(smoothed, choice[None, None, :, None], 0)[0]
    return out, grid[choice]


def smooth_rotations(
    aa: np.ndarray,
    sigma_frames: float,
    adaptive: bool = True,
    capped: dict[int, float] | None = None,
    stride: int = 1,
) -> np.ndarray:
    """Zero-lag Gaussian rotation smoothing; ``aa`` (T, ..., 3) axis-angle, time first.

    ``adaptive``: per-rotation width up to ``sigma_frames`` (:func:`adaptive_gaussian`);
    otherwise exactly ``sigma_frames``. ``capped``: rotation index (along axis 1 of ``aa`` (T, K,
    3)) -> a smaller width limit for that rotation. ``stride``: :func:`adaptive_gaussian`.
    """
    aa = np.asarray(aa)
    if sigma_frames <= 0 or aa.shape[0] < 3:
        return aa
    q = quaternion_sign_continuous(axis_angle_to_quaternion(aa))
    raw = q
    if adaptive:
        shape = q.shape
        q = adaptive_gaussian(q.reshape(shape[0], -1, 4), sigma_frames, stride=stride)[0]
        q = q.reshape(shape)
    else:
        q = gaussian_filter1d(q, sigma_frames, axis=0, mode="nearest")
    for k, limit in (capped or {}).items():
        width = min(limit, sigma_frames)
        if adaptive:
            q[:, k] = adaptive_gaussian(raw[:, k : k + 1], width, stride=stride)[0][:, 0]
        else:
            q[:, k] = gaussian_filter1d(raw[:, k], width, axis=0, mode="nearest")
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return quaternion_to_axis_angle(q).astype(aa.dtype)


def smooth_vectors(
    x: np.ndarray, sigma_frames: float, adaptive: bool = True, stride: int = 1
) -> np.ndarray:
    """Zero-lag Gaussian smoothing of a Euclidean series (T, ..., D), time first; with
    ``adaptive`` one width per point (the last axis holds the point's coordinates).
    ``stride``: :func:`adaptive_gaussian`."""
    x = np.asarray(x)
    if sigma_frames <= 0 or x.shape[0] < 3:
        return x
    if adaptive:
        flat = x.reshape(x.shape[0], -1, x.shape[-1]) if x.ndim > 1 else x.reshape(-1, 1, 1)
        smoothed = adaptive_gaussian(flat, sigma_frames, stride=stride)[0]
        return smoothed.reshape(x.shape).astype(x.dtype)
    return gaussian_filter1d(
        np.asarray(x, np.float64), sigma_frames, axis=0, mode="nearest"
    ).astype(x.dtype)


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
    """Online One-Euro filter over rotations (..., 3 axis-angle): SLERP steps, angular speed.

    ``beta`` is per rad/s: 0.8 keeps the per-frame error at the raw level on 0.5 Hz motion with
    ~70 % less jitter (tests/test_smoothing.py); 0.05 (the vector default) lagged so much that
    the per-frame error doubled."""

    fps: float
    min_cutoff: float = 1.0
    beta: float = 0.8
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        self._q: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def __call__(self, aa: np.ndarray) -> np.ndarray:
        q = axis_angle_to_quaternion(aa)
        dt = 1.0 / self.fps
        if self._q is None:
            self._q, self._speed = q, np.zeros(q.shape[:-1] + (1,))
            return np.asarray(aa, np.float64)
        dot = np.abs(np.sum(self._q * q, axis=-1, keepdims=True)).clip(0, 1)
        speed = 2 * np.arccos(dot) / dt  # rad/s between estimate and sample
        self._speed = self._speed + _alpha(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * self._speed
        self._q = quaternion_slerp(self._q, q, _alpha(cutoff, dt))
        return quaternion_to_axis_angle(self._q)


# ----------------------------------------------------------------------------- sequences ----


def selection_stride(fps: float, stride: int = 1) -> int:
    """Every how many frames the adaptive widths are chosen on: a multiple of ``stride`` (the
    frames that were estimated) whose rate is nearest :data:`SELECTION_RATE_HZ`, at least 1."""
    return stride * max(1, round(fps / stride / SELECTION_RATE_HZ))


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
    sigma_s: float = 0.2,
    min_cutoff: float = 1.0,
    beta: float = 0.05,
    rotation_beta: float = 0.8,
    joints_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
    image_size_hw: tuple[int, int] | None = None,
    stride: int = 1,
    in_place: bool = False,
    times: np.ndarray | None = None,
) -> SmplSequence:
    """Smooth every track of ``seq``; ``method`` is ``offline`` (Gaussian of adaptive width up to
    ``sigma_s``), ``gaussian`` (fixed width ``sigma_s``), ``online`` (One-Euro) or ``none``.
    Betas are averaged per track in every method. ``beta`` is the One-Euro speed coefficient of
    the Euclidean series (units/s), ``rotation_beta`` that of rotations (per rad/s).

    ``joints_fn`` ((betas, body_pose, global_orient) -> body-frame joints (M, J, 3), the body
    model that produced ``seq``) with ``image_size_hw``: the smoothed joints are the body model's
    joints of the smoothed parameters plus the smoothed translation, projected for the 2D ones,
    instead of each joint position smoothed on its own. Why: the table's joints and parameters
    then describe one body, and a nod survives. A nose moves ~2 cm in a 10 degree nod while the
    whole body's depth jitters by more, so smoothing each position separately flattened the nod
    to ~2 degrees even where the head rotation kept it.

    ``stride``: the sequence was estimated on every k-th frame and interpolated between
    (``estimate_every_k``); the offline method then chooses its widths on those frames
    (:func:`adaptive_gaussian`), and on faster video on fewer still
    (:func:`selection_stride`).

    ``in_place``: write the smoothed values into ``seq``'s own arrays (the caller gives it up)
    instead of copies. Each track's rows are read before they are written and tracks share no
    rows, so the result is the same; an hour with a cut every 3 s holds one sequence instead of
    two (185 MiB less). The flow's stage does this and is therefore not retried: a second try
    would smooth smoothed values.

    ``times``: each video frame's presentation time, seconds (``VideoInfo.times()``): a run of
    frames is smoothed at its own rate, that of its median frame interval, where that is not
    ``fps`` (a variable-frame-rate video's mean: :func:`analytics.clock.even_clock`). A 30
    frames/s stretch of a phone clip whose mean is 25 was smoothed over 5 of its frames, 0.17 s
    where 0.2 s was meant, and its fit's jitter read as motion. The run is not resampled: where
    the rate changes inside it the widths follow the median (tried: resampled on an even clock,
    each frame held for the ticks it is on screen, an 8-degree 2 Hz nod filmed at half the rate
    came out 1.6 degrees RMS off, 0.7 as it is)."""
    if len(seq) == 0:
        return seq

    def writable(values: np.ndarray) -> np.ndarray:
        return values if in_place and values.flags.writeable else np.array(values, copy=True)

    out = {
        name: writable(getattr(seq, name))
        for name in ("global_orient", "body_pose", "betas", "transl_m", "joints3d_m", "joints2d_px")
    }
    repose = joints_fn is not None and image_size_hw is not None and method != "none"
    for track in np.unique(seq.track_id):
        rows = np.flatnonzero(seq.track_id == track)
        rows = rows[np.argsort(seq.frame[rows], kind="stable")]
        weights = np.clip(np.nan_to_num(seq.confidence[rows], nan=0.0), 1e-3, None)
        out["betas"][rows] = np.average(seq.betas[rows], axis=0, weights=weights)
        if method == "none":
            continue
        # Re-posed joints replace smoothed ones below, so only the translation is smoothed then.
        vectors = ("transl_m",) if repose else ("transl_m", "joints3d_m", "joints2d_px")
        for run in _runs(seq.frame[rows]):
            r = rows[run]
            clock = even_clock(times[seq.frame[r]], fps) if times is not None else None
            rate = clock[0] if clock is not None else fps
            sigma, every = sigma_s * rate, selection_stride(rate, stride)
            rot = np.concatenate([seq.global_orient[r], seq.body_pose[r]], axis=1).reshape(
                len(r), 24, 3
            )
            if method in ("offline", "gaussian"):
                adaptive = method == "offline"
                capped = dict.fromkeys(SMPL_HEAD_CHAIN, HEAD_CHAIN_MAX_SIGMA_S * rate)
                rot = smooth_rotations(rot, sigma, adaptive, capped, every)
                for name in vectors:
                    out[name][r] = smooth_vectors(getattr(seq, name)[r], sigma, adaptive, every)
            elif method == "online":
                rot = _online(rot, OneEuroRotationFilter(rate, min_cutoff, rotation_beta))
                for name in vectors:
                    out[name][r] = _online(
                        getattr(seq, name)[r], OneEuroFilter(rate, min_cutoff, beta)
                    )
            else:
                raise ValueError(f"unknown smoothing method {method!r}")
            out["global_orient"][r] = rot[:, 0]
            out["body_pose"][r] = rot[:, 1:].reshape(len(r), 69)
    if repose:
        for start in range(0, len(seq), REPOSE_ROWS):
            rows = np.arange(start, min(start + REPOSE_ROWS, len(seq)))
            body = joints_fn(out["betas"][rows], out["body_pose"][rows], out["global_orient"][rows])
            joints = body + out["transl_m"][rows, None, :]
            out["joints3d_m"][rows] = joints  # cast to the table's dtype on assignment
            out["joints2d_px"][rows] = seq.take(rows).project(joints, image_size_hw)
    return replace(seq, **out, smoothed=method != "none")


def _online(x: np.ndarray, filt) -> np.ndarray:
    return np.stack([filt(sample) for sample in x]).astype(x.dtype)
