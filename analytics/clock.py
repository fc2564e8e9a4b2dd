"""The clock of a video's frames: how long each is shown, and an even clock for the detectors.

The flow passes each frame's presentation time (``VideoInfo.times()``, ``.end_times()``), so a
variable-frame-rate recording (a phone that drops to half its rate in dim light, a video call
that sends frames as they change) keeps its real times. Measures that add up time or divide
by it take them from here; the event detectors, whose filters and shortest lengths are counted
in frames, see the frames on an even clock (:func:`even_clock`).
"""

from __future__ import annotations

import numpy as np

#: (start, end) presentation time of every video frame, seconds (``VideoInfo.times()``,
#: ``.end_times()``); None: the mean rate's grid, ``frame / fps``.
Timeline = tuple[np.ndarray, np.ndarray] | None


def frame_seconds(frame: np.ndarray, fps: float, timeline: Timeline) -> np.ndarray:
    """How long each frame row (video frame index ``frame``) is on screen, seconds: the time to
    the next frame on the ``timeline``, else ``1 / fps``. Durations and per-minute rates add
    these up, so on a variable-frame-rate video a stretch shot at 30 frames/s counts its real
    time, not its frames at the mean rate (a 1 s window of 25 frames counted 1.35 s at a mean
    of 18.5 frames/s, its rates 26 % low). On a constant-rate video they are ``1 / fps`` on
    average (``fps`` is the timeline's mean rate)."""
    frame = np.asarray(frame, np.int64)
    if timeline is None:
        return np.full(len(frame), 1.0 / fps)
    starts, ends = timeline
    return ends[frame] - starts[frame]


#: Frame intervals within this fraction of their median are one constant rate: the rounding of
#: a container's time base (29.97 frames/s stored in milliseconds: 33 and 34 ms) is not a change
#: of rate, a phone's drop to half its rate is.
EVEN_TOLERANCE = 0.25

#: A track's median frame interval within this fraction of the video's mean one is at the
#: video's rate (the mean of a constant-rate video's intervals is its frame interval; a median
#: of rounded times, 33 or 34 ms at 29.97 frames/s, is within 2 % of it).
SAME_RATE_TOLERANCE = 0.05


def even_clock(times: np.ndarray, fps: float) -> tuple[float, np.ndarray] | None:
    """None where ``times`` (a track's frames, seconds, ascending) are evenly spaced at ``fps``
    (the video's mean rate); else the rate of an even clock at their median interval and, for
    each of its ticks, the frame on screen then (the last frame shown at or before it; a frame
    shown for two intervals is seen at two ticks, frames closer than one are skipped). A track
    evenly spaced at another rate than the video's mean (all of it shot before a phone halved
    its rate) is its frames as they are, at their own rate.

    Why: the detectors count frames at one rate (a nod's band-pass filter, an episode's
    shortest length). Given a clip at 25 then 12.5 frames/s as frames at the mean rate, 20, its
    nods at 25 frames/s read as 0.8 times their real frequency (2 Hz nods as 1.8 and 3.2 Hz,
    ``tests/test_analytics_units.py``)."""
    times = np.asarray(times, np.float64)
    if len(times) < 3:
        return None
    step = float(np.median(np.diff(times)))
    if step <= 0:
        return None
    if np.all(np.abs(np.diff(times) - step) <= EVEN_TOLERANCE * step):
        if abs(step * fps - 1.0) <= SAME_RATE_TOLERANCE:
            return None
        return 1.0 / step, np.arange(len(times))
    ticks = times[0] + step * np.arange(int(round((times[-1] - times[0]) / step)) + 1)
    shown = np.searchsorted(times, ticks + 1e-6 * step, side="right") - 1
    return 1.0 / step, np.clip(shown, 0, len(times) - 1)
