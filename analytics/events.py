"""Event detection on per-frame measures: gesture strokes, head nods and shakes, posture
shifts and touching episodes. Loops run over detected runs/segments, never over frames.

Every detector returns a list of dicts with the `events` table columns (minus the ids);
frames are inclusive, ``start_s = start_frame / fps`` and ``end_s = (end_frame + 1) / fps``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import butter, sosfiltfilt

#: Nod / shake detector (after Hadar et al. 1983 and later head-gesture work: nods and shakes
#: are 1-4 Hz oscillations of pitch / yaw).
OSC_BAND_HZ = (1.0, 4.0)
OSC_MIN_HALF_CYCLES = 2
OSC_MIN_SWING_DEG = 5.0  # peak-to-peak excursion of each half-cycle, band-passed signal
#: Posture shift: change of the mean trunk lean between the 1 s before and the 1 s after a frame.
POSTURE_HALF_WINDOW_S = 1.0
POSTURE_SHIFT_DEG = 8.0
#: Gesture strokes: runs of "gesturing" frames, gaps this short are bridged, runs this short dropped.
STROKE_MAX_GAP_S = 0.1
STROKE_MIN_S = 0.1
#: ... and the wrist must get somewhere: the largest distance between two of its positions
#: relative to the neck, across the camera's line of sight (depth left out:
#: :func:`analytics.motion.wrist_across_sight`), within the run. A per-frame fit's jitter makes
#: runs of 0.1-0.3 s above the speed threshold that go nowhere (1.4-5.4 cm on the synthetic
#: benchmark's still and listening people, 6 of 7 false strokes per 3 s on the still listener),
#: or that go only in depth; beats and strokes there span 13-29 cm across the view.
STROKE_MIN_EXTENT_M = 0.06
#: Fast hands that are not gesturing: a hand moving to or from the face around a face touch is
#: that self-touch (an adaptor, in gesture research not a gesture), and arms folding or unfolding
#: around arms crossed are a posture change. Strokes this close to either episode are dropped
#: (:func:`non_gesture_frames`).
NON_GESTURE_MARGIN_S = 0.3
EPISODE_MAX_GAP_S = 0.1
EPISODE_MIN_S = 0.2


def runs(mask: np.ndarray, max_gap: int = 0, min_len: int = 1) -> list[tuple[int, int]]:
    """(start, end_inclusive) of True runs; gaps <= max_gap frames are bridged, short runs dropped."""
    m = np.asarray(mask, dtype=bool)
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)  # ends exclusive
    if len(starts) and max_gap > 0:
        keep = np.concatenate([[True], starts[1:] - ends[:-1] > max_gap])
        starts, ends = starts[keep], ends[np.concatenate([keep[1:], [True]])]
    return [(int(s), int(e) - 1) for s, e in zip(starts, ends, strict=True) if e - s >= min_len]


def frames_at_least(seconds: float, fps: float) -> int:
    """The fewest frames that last at least ``seconds`` (n frames last n / fps): a minimum
    duration. ``round`` gave 2 frames, 0.08 s, for 0.1 s at 25 fps."""
    return max(1, math.ceil(seconds * fps - 1e-9))


def frames_at_most(seconds: float, fps: float) -> int:
    """The most frames that last at most ``seconds``: a gap bridged (``round`` bridged 4
    frames, 0.108 s, for 0.1 s at 37 fps)."""
    return math.floor(seconds * fps + 1e-9)


def _event(kind: str, s: int, e: int, fps: float, **values: object) -> dict:
    return {
        "event_type": kind,
        "start_frame": s,
        "end_frame": e,
        "start_s": s / fps,
        "end_s": (e + 1) / fps,
        "duration_s": (e + 1 - s) / fps,
        **values,
    }


def episode_events(kind: str, mask: np.ndarray, fps: float, side: str | None = None) -> list[dict]:
    """Touching (or any boolean state) episodes: runs of at least EPISODE_MIN_S."""
    found = runs(mask, frames_at_most(EPISODE_MAX_GAP_S, fps), frames_at_least(EPISODE_MIN_S, fps))
    return [_event(kind, s, e, fps, side=side) for s, e in found]


def gesture_strokes(
    speed: np.ndarray,
    threshold: float,
    fps: float,
    side: str,
    position: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
) -> list[dict]:
    """Strokes of one hand: runs of trunk-relative wrist speed above ``threshold``; with
    ``position`` (T, 3), the wrist's positions across the line of sight
    (:func:`analytics.motion.wrist_across_sight`), only runs spanning at least
    STROKE_MIN_EXTENT_M; with ``excluded`` (T,) bool, no run touching an excluded frame."""
    found = runs(
        np.nan_to_num(speed) > threshold,
        frames_at_most(STROKE_MAX_GAP_S, fps),
        frames_at_least(STROKE_MIN_S, fps),
    )
    if position is not None:
        found = [(s, e) for s, e in found if _extent(position[s : e + 1]) >= STROKE_MIN_EXTENT_M]
    if excluded is not None:
        found = [(s, e) for s, e in found if not excluded[s : e + 1].any()]
    return [
        _event(
            "gesture_stroke",
            s,
            e,
            fps,
            side=side,
            peak_speed_m_per_s=float(np.nanmax(speed[s : e + 1])),
        )
        for s, e in found
    ]


def _extent(points: np.ndarray) -> float:
    """Largest distance between two of the (n, 3) points (NaN rows ignored), metres."""
    p = points[~np.isnan(points).any(axis=1)]
    if len(p) < 2:
        return 0.0
    return float(np.linalg.norm(p[:, None] - p[None], axis=-1).max())


def non_gesture_frames(
    touching: np.ndarray,
    arms_crossed: np.ndarray,
    fps: float,
    walking: np.ndarray | None = None,
) -> np.ndarray:
    """(T,) bool: frames within NON_GESTURE_MARGIN_S of touching the face, of arms crossed or
    of walking.

    Folding the arms moves both wrists across the chest at stroke speed: on the synthetic
    benchmark's medium shot those movements were the 4 of its 7 strokes outside the scripted
    beats, on the fitted bodies and on the ground-truth ones alike. Walking swings the arms at
    stroke speed too (the pedestrians of the real two-person sample: 1-3 "strokes" each time one
    crossed the street shot); ``walking``: :data:`analytics.motion.WALKING_SPEED_M_PER_S`."""
    either = np.asarray(touching, dtype=bool) | np.asarray(arms_crossed, dtype=bool)
    if walking is not None:
        either |= np.asarray(walking, dtype=bool)
    return near(either, round(NON_GESTURE_MARGIN_S * fps))


def near(mask: np.ndarray, margin: int) -> np.ndarray:
    """``mask`` (T,) bool dilated by ``margin`` frames either side."""
    m = np.asarray(mask, dtype=bool)
    if margin <= 0 or not m.any():
        return m.copy()
    kernel = np.ones(2 * margin + 1)
    return np.convolve(m.astype(float), kernel, mode="same") > 0


def dominant_head_axis(events: list[dict]) -> list[dict]:
    """Of a nod and a shake of one person that overlap by more than half of the shorter, keep
    the larger (amplitude): a head movement is coded as one or the other, and a fit's pitch and
    yaw cross-talk made every clear shake also a small nod (and back)."""
    osc = [e for e in events if e["event_type"] in ("nod", "shake")]
    drop = set()
    for i, a in enumerate(osc):
        for b in osc[i + 1 :]:
            if a["event_type"] == b["event_type"]:
                continue
            overlap = (
                min(a["end_frame"], b["end_frame"]) - max(a["start_frame"], b["start_frame"]) + 1
            )
            shorter = min(a["end_frame"] - a["start_frame"], b["end_frame"] - b["start_frame"]) + 1
            if overlap > 0.5 * shorter:
                drop.add(id(a) if a["amplitude_deg"] < b["amplitude_deg"] else id(b))
    return [e for e in events if id(e) not in drop]


def head_movement_events(
    angles_deg: np.ndarray, fps: float, in_place_deg: np.ndarray | None = None
) -> list[dict]:
    """Nods (pitch) and shakes (yaw) of one person: :func:`oscillation_events` of the
    trunk-relative ``angles_deg`` (T, >= 2: pitch, yaw, ...), one axis per head movement
    (:func:`dominant_head_axis`), each kept only where the same kind of oscillation is also
    found, overlapping it, in ``in_place_deg`` (the same columns): the head against a fixed
    reference (:func:`analytics.head.head_angles_in_place_deg`). Without it, all are kept.

    Why both: on the synthetic benchmark, 3 of its 4 false nods and shakes (5.3-5.7 degrees,
    each while the arms gestured or the trunk leaned) were trunk-relative swings made by the
    fitted trunk, with no head oscillation in place; every scripted one (7.9-15.3 degrees) was
    found in both. The band-pass removes a camera's slow pans, and each shot is its own track."""

    def found(angles: np.ndarray) -> list[dict]:
        return oscillation_events("nod", angles[:, 0], fps) + oscillation_events(
            "shake", angles[:, 1], fps
        )

    moves = dominant_head_axis(found(angles_deg))
    if in_place_deg is None:
        return moves
    steady = found(in_place_deg)
    return [
        e
        for e in moves
        if any(
            s["event_type"] == e["event_type"]
            and min(s["end_frame"], e["end_frame"]) >= max(s["start_frame"], e["start_frame"])
            for s in steady
        )
    ]


def bandpass(x: np.ndarray, fps: float, band: tuple[float, float] = OSC_BAND_HZ) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth band-pass of a NaN-free signal (mean removed first)."""
    hi = min(band[1], 0.45 * fps)
    sos = butter(2, [band[0], hi], btype="bandpass", fs=fps, output="sos")
    padlen = min(len(x) - 1, 3 * round(fps / band[0]))
    return sosfiltfilt(sos, x - np.mean(x), padlen=padlen)


def oscillation_events(
    kind: str,
    angle_deg: np.ndarray,
    fps: float,
    band: tuple[float, float] = OSC_BAND_HZ,
    min_half_cycles: int = OSC_MIN_HALF_CYCLES,
    min_swing_deg: float = OSC_MIN_SWING_DEG,
) -> list[dict]:
    """Nods (pitch) or shakes (yaw): >= ``min_half_cycles`` consecutive half-cycles of the
    band-passed angle, each swinging >= ``min_swing_deg`` peak-to-peak and lasting
    1/(2 f_hi) .. 1/(2 f_lo) seconds. Runs of valid frames shorter than 1/f_lo are skipped."""
    out: list[dict] = []
    for s0, e0 in runs(~np.isnan(angle_deg), 0, max(9, round(fps / band[0]))):
        x = bandpass(angle_deg[s0 : e0 + 1], fps, band)
        d = np.sign(np.diff(x))
        ext = np.flatnonzero(d[1:] * d[:-1] < 0) + 1  # local extrema
        if len(ext) < 2:
            continue
        swing = np.abs(np.diff(x[ext]))
        dur = np.diff(ext) / fps
        ok = (swing >= min_swing_deg) & (dur >= 0.5 / band[1]) & (dur <= 0.5 / band[0])
        for a, b in runs(ok, 0, min_half_cycles):
            s, e = s0 + int(ext[a]), s0 + int(ext[b + 1])
            n = b - a + 1
            out.append(
                _event(
                    kind, s, e, fps,
                    n_half_cycles=n,
                    amplitude_deg=float(np.mean(swing[a : b + 1])),
                    frequency_hz=n / (2.0 * (ext[b + 1] - ext[a]) / fps),
                )
            )  # fmt: skip
    return out


def posture_shift_score_deg(lean_deg: np.ndarray, fps: float) -> np.ndarray:
    """|mean lean in the next POSTURE_HALF_WINDOW_S - mean in the previous one| per frame (T,).

    ``lean_deg`` is (T, k) (forward and sideways lean); NaN where either side has < 50% data.
    """
    w = max(1, round(POSTURE_HALF_WINDOW_S * fps))
    t = len(lean_deg)
    valid = ~np.isnan(lean_deg).any(axis=1)
    cs = np.concatenate(
        [np.zeros((1, lean_deg.shape[1])), np.cumsum(np.where(valid[:, None], lean_deg, 0.0), 0)]
    )
    cn = np.concatenate([[0], np.cumsum(valid)])
    i = np.arange(t)
    lo, hi = np.clip(i - w, 0, t), np.clip(i + w, 0, t)
    n_before, n_after = cn[i] - cn[lo], cn[hi] - cn[i]
    with np.errstate(invalid="ignore", divide="ignore"):
        before = (cs[i] - cs[lo]) / n_before[:, None]
        after = (cs[hi] - cs[i]) / n_after[:, None]
    score = np.linalg.norm(after - before, axis=1)
    return np.where((n_before >= w / 2) & (n_after >= w / 2), score, np.nan)


def posture_shift_events(lean_deg: np.ndarray, fps: float) -> list[dict]:
    """Change points of trunk pose: runs where the before/after lean change exceeds POSTURE_SHIFT_DEG."""
    score = posture_shift_score_deg(lean_deg, fps)
    return [
        _event("posture_shift", s, e, fps, amplitude_deg=float(np.nanmax(score[s : e + 1])))
        for s, e in runs(np.nan_to_num(score) > POSTURE_SHIFT_DEG)
    ]
