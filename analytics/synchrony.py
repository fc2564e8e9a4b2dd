"""Interpersonal synchrony: windowed, lagged cross-correlation of two time series, in the
style of Motion Energy Analysis (Ramseyer & Tschacher 2011; Boker et al. 2002 for windowed
cross-correlation).

Sign convention: r(lag) = corr(a[t], b[t + lag]). A peak at a positive lag means b repeats
what a did ``lag`` seconds earlier, i.e. **a leads and b follows**. In the per-person tables the
lag is given from that person's side: positive = this person leads, the partner follows.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Largest lag examined (s); also capped at half the window. Ramseyer & Tschacher use +-5 s on
#: 60 s windows of psychotherapy sessions; conversational mimicry is mostly within 3 s.
SYNC_MAX_LAG_S = 3.0
SYNC_MIN_VALID_FRACTION = 0.5


def window_ids(
    frames: np.ndarray, fps: float, window_s: float, times: np.ndarray | None = None
) -> np.ndarray:
    """Index of the ``window_s`` window (consecutive from t = 0) holding each video frame:
    by its presentation time ``times[frame]`` (seconds, every frame of the video), or by
    ``frame / fps`` without a timeline. On a variable-frame-rate video the two part: the mean
    rate's grid put a screen recording's 1 s windows up to a second away from the frames'
    times, so windows did not line up with ``t_s``, the events or a transcript.

    The one definition shared by the window table and synchrony, so a window row and the
    synchrony written on it always describe the same frames, whatever span a track covers.
    The epsilon keeps frames that start a window exactly (t = k * window_s) in window k despite
    rounding.
    """
    frames = np.asarray(frames, dtype=np.int64)
    t = times[frames] if times is not None else frames / fps
    return np.floor(t / window_s + 1e-9).astype(np.int64)


def lagged_xcorr_by_window(
    a: np.ndarray,
    b: np.ndarray,
    window: np.ndarray,
    fps: float,
    window_s: float,
    max_lag_s: float = SYNC_MAX_LAG_S,
    segment: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson r per window and lag, windows given per sample.

    ``a``, ``b``: two signals on the same consecutive frames; ``window[i]``: the window id of
    sample i (e.g. :func:`window_ids` of the video frames). Returns (lags_s (L,), ids (W,) the
    sorted window ids present, r (W, L)). The window is fixed on ``a``; ``b`` is read shifted,
    also from outside the window, so every lag uses the full window. Pairs with a NaN are
    dropped; a window/lag with fewer valid pairs than SYNC_MIN_VALID_FRACTION of a *full*
    window (``round(window_s * fps)`` frames), or without variance, is NaN, so a window cut by
    the start or end of the data is judged like a full one with missing frames.

    ``segment[i]`` (optional, int): which stretch of recording sample i belongs to, e.g. the
    pair of tracks seen there (:mod:`analytics.dyad`). A pair (a[t], b[t + lag]) counts only
    within one segment, and a window that a segment border cuts is judged on its longest part
    alone: across a shot cut both people's measured level can jump at once, and pooling the two
    sides in one Pearson r would read that jump as synchrony. Without it the samples are one
    stretch.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    window = np.asarray(window, dtype=np.int64)
    segment = np.zeros(len(a), np.int64) if segment is None else np.asarray(segment, np.int64)
    if not (len(a) == len(b) == len(window) == len(segment)):
        raise ValueError(
            f"lengths differ: a {len(a)}, b {len(b)}, window {len(window)}, segment {len(segment)}"
        )
    full = max(2, round(window_s * fps))
    max_lag = round(min(max_lag_s, window_s / 2) * fps)
    lags = np.arange(-max_lag, max_lag + 1)
    ids = np.unique(window)
    r = np.full((len(ids), len(lags)), np.nan)
    if len(a) == 0:
        return lags / fps, ids, r
    # one group per part of a window within one segment; each window keeps its longest part
    # (the most samples where both signals are known), and only that part is computed
    parts, group = _pairs(window, segment)
    seen_a, seen_b = ~np.isnan(a), ~np.isnan(b)
    size = np.bincount(group, weights=(seen_a & seen_b).astype(np.float64))
    order = np.lexsort((-size, parts[0]))  # by window, the longest part first
    chosen = order[np.r_[True, parts[0][order][1:] != parts[0][order][:-1]]]
    # The chosen parts one per row, 0 where a sample does not count. x: ``a`` from the part's
    # first sample (a part's samples lie within one window, not always one after another when
    # segments interleave); y: ``b`` from ``max_lag`` samples before that to ``max_lag`` after,
    # kept where it is known and in the part's segment, so that y column ``t + lag + max_lag``
    # pairs with x column ``t`` at ``lag``.
    row_of = np.full(len(parts[0]), -1)
    row_of[chosen] = np.arange(len(chosen))
    pos = np.flatnonzero(row_of[group] >= 0)
    row = row_of[group[pos]]
    first = np.full(len(chosen), len(a))
    np.minimum.at(first, row, pos)
    span = int((pos - first[row]).max()) + 1
    x_mask = np.zeros((len(chosen), span))
    x_mask[row, pos - first[row]] = seen_a[pos]
    x_at = np.minimum(first[:, None] + np.arange(span), len(a) - 1)  # past the end: masked
    x = x_mask * np.where(seen_a, a, 0.0)[x_at]
    at = first[:, None] + np.arange(-max_lag, span + max_lag)
    inside = (at >= 0) & (at < len(a))
    at = at.clip(0, len(a) - 1)
    y_mask = (inside & seen_b[at] & (segment[at] == parts[1][chosen, None])).astype(np.float64)
    y = y_mask * np.where(seen_b, b, 0.0)[at]

    def lagged_sum(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """(P, L): sum over t of u[p, t] * v[p, t + lag + max_lag], one lag per column."""
        return np.einsum("pt,plt->pl", u, sliding_window_view(v, span, axis=1))

    n = lagged_sum(x_mask, y_mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = lagged_sum(x, y_mask) / n, lagged_sum(x_mask, y) / n
        cov = lagged_sum(x, y) / n - mx * my
        vx = lagged_sum(x * x, y_mask) / n - mx**2
        vy = lagged_sum(x_mask, y * y) / n - my**2
        rr = cov / np.sqrt(vx * vy)
    good = (n >= SYNC_MIN_VALID_FRACTION * full) & (vx > 1e-12) & (vy > 1e-12)
    r[np.searchsorted(ids, parts[0][chosen])] = np.where(good, np.clip(rr, -1.0, 1.0), np.nan)
    return lags / fps, ids, r


def _pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(np.stack([first, second]), axis=1, return_inverse=True)`` for int arrays,
    through one int code per sample: the same pairs in the same order, without sorting
    structured rows (which took 2.6 of the 18 s that 200 synchrony surrogates of 10 minutes
    cost)."""
    lo = (int(first.min()), int(second.min()))
    width = int(second.max()) - lo[1] + 1
    codes, group = np.unique((first - lo[0]) * width + (second - lo[1]), return_inverse=True)
    return np.stack([codes // width + lo[0], codes % width + lo[1]]), group.ravel()


def windowed_lagged_xcorr(
    a: np.ndarray,
    b: np.ndarray,
    fps: float,
    window_s: float,
    max_lag_s: float = SYNC_MAX_LAG_S,
    segment: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r per non-overlapping window of ``round(window_s * fps)`` samples from sample 0.

    Returns (lags_s (L,), r (n_windows, L)); see :func:`lagged_xcorr_by_window` for the rules.
    """
    w = max(2, round(window_s * fps))
    window = np.arange(len(a)) // w
    lags, _, r = lagged_xcorr_by_window(a, b, window, fps, window_s, max_lag_s, segment)
    return lags, r


def peak(lags_s: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lag (s) and value of the largest r per row; NaN rows give NaN."""
    r = np.atleast_2d(r)
    allnan = np.isnan(r).all(1)
    k = np.argmax(np.where(np.isnan(r), -np.inf, r), axis=1)
    best = r[np.arange(len(r)), k]
    return np.where(allnan, np.nan, lags_s[k]), np.where(allnan, np.nan, best)


def mean_curve(r: np.ndarray) -> np.ndarray:
    """Average of the windows' r(lag) through Fisher's z (NaN windows ignored)."""
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN lag columns
        return np.tanh(np.nanmean(z, axis=0))
