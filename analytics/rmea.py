"""Files for rMEA (Kleinbub & Ramseyer, R package for Motion Energy Analysis) and a segment-
shuffling surrogate baseline for the project's synchrony measure.

rMEA reads one text file per dyad: one row per frame, one column of motion energy per person,
no index column. :func:`write_rmea` writes that file as CSV with a header row (``P<person_id>``,
the names of the ELAN tiers) and ``NA`` for frames where a person has no value; the rows are
every video frame from the first either person is seen in to the last, so row i is i / fps
seconds after the first. In R::

    read.csv(path)                      # header and "NA" are read-csv defaults (na.strings = "NA")
    rMEA::readMEA(path, sampRate = fps, s1Col = 1, s2Col = 2, sep = ",", skip = 1,
                  s1Name = "P1", s2Name = "P2")

``read.csv``'s default ``na.strings`` is ``"NA"``; empty cells in a numeric column are read as NA
too, but "NA" is also what R's own ``write.csv`` writes and is unambiguous in any column type.
The motion energy here is the 3D joint speed of ``features_frames.motion_energy_m_per_s`` (m/s),
not rMEA's usual pixel-difference count, so thresholds tuned for 2D MEA do not carry over.

Surrogates: rMEA's ``shuffle`` recombines people *between* dyads; its ``shuffle_segments``
(Ramseyer & Tschacher 2010) cuts each person's series into segments and shuffles their order
*within* the person. :func:`surrogate_synchrony` does the latter for one dyad, which is what a
single interview allows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analytics.dyad import Dyad, dyad_signals
from analytics.synchrony import mean_curve, peak, windowed_lagged_xcorr

MOTION_COLUMN = "motion_energy_m_per_s"
NA_REP = "NA"


def dyad_motion(features_frames: pd.DataFrame, dyad: Dyad) -> pd.DataFrame:
    """The dyad's motion energy: a table of two columns ``P<a>``, ``P<b>`` indexed by every
    video frame from the first either person is seen in to the last (NaN where a person has no
    row or no value; :func:`analytics.dyad.dyad_signals`)."""
    if dyad.a == dyad.b:
        raise ValueError(f"a dyad needs two different people, got {dyad}")
    if "video_id" in features_frames and features_frames["video_id"].nunique() > 1:
        raise ValueError("features_frames holds several videos; pass one video's rows")
    for tracks in (dyad.tracks_a, dyad.tracks_b):
        if not features_frames["track_id"].isin(tracks).any():
            raise ValueError(f"tracks {tracks} have no rows in features_frames")
    grid, signals, _ = dyad_signals(features_frames, dyad, (MOTION_COLUMN,))
    a, b = signals[MOTION_COLUMN]
    return pd.DataFrame({f"P{dyad.a}": a, f"P{dyad.b}": b}, index=pd.Index(grid, name="frame"))


def write_rmea(features_frames: pd.DataFrame, dyad: Dyad, out_path: Path) -> Path:
    """Write the rMEA input file of ``dyad`` (``a`` = rMEA's s1) to ``out_path``:
    comma-separated, header ``P<a>,P<b>``, one row per video frame from the first either person
    is seen in to the last, no index, missing values as ``NA``."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    dyad_motion(features_frames, dyad).to_csv(
        out_path, index=False, na_rep=NA_REP, float_format="%.6g"
    )
    return out_path


def write_windows_csv(features_windows: pd.DataFrame, out_path: Path) -> Path:
    """Write ``features_windows`` as a plain CSV: one row per (person, window length, window),
    the table's columns unchanged (units are in the names, e.g. ``..._mean_m_per_s``), sorted by
    video, track, window length and window; missing values as ``NA``."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    keys = [
        k for k in ("video_id", "track_id", "window_s", "window_index") if k in features_windows
    ]
    table = features_windows.sort_values(keys, kind="stable") if keys else features_windows
    table.to_csv(out_path, index=False, na_rep=NA_REP)
    return out_path


def peak_synchrony(
    a: np.ndarray, b: np.ndarray, fps: float, window_s: float, segment: np.ndarray | None = None
) -> float:
    """Peak of the Fisher-z average over windows of the lagged correlation r(lag) (the
    ``features_summary`` synchrony of :mod:`analytics.synchrony`, ``segment`` as there); NaN
    without valid windows."""
    lags, r = windowed_lagged_xcorr(a, b, fps, window_s, segment=segment)
    if r.size == 0 or np.isnan(r).all():
        return float("nan")
    _, best = peak(lags, mean_curve(r))
    return float(best[0])


def _segment_shuffle(x: np.ndarray, seg: int, rng: np.random.Generator) -> np.ndarray:
    """``x`` cut into consecutive segments of ``seg`` samples (the last may be shorter), put back
    in a random order in which no segment keeps its place (so no real pairing survives)."""
    bounds = np.arange(0, len(x), seg)
    pieces = [x[s : s + seg] for s in bounds]
    k = len(pieces)
    while True:
        order = rng.permutation(k)
        if not np.any(order == np.arange(k)):
            return np.concatenate([pieces[i] for i in order])


def surrogate_synchrony(
    a: np.ndarray,
    b: np.ndarray,
    fps: float,
    window_s: float,
    n_surrogates: int = 200,
    seed: int = 0,
    segment: np.ndarray | None = None,
) -> dict:
    """Real synchrony of ``a`` and ``b`` against segment-shuffled surrogates.

    ``r``: :func:`peak_synchrony` of (a, b) (the windowed lagged correlation of
    :mod:`analytics.synchrony`, Fisher-z averaged over windows, peak over lags). Surrogates: ``b``
    cut into segments of one window (``round(window_s * fps)`` samples), shuffled so no segment
    stays in place (a derangement), and correlated with the unchanged ``a`` the same way
    (rMEA's ``shuffle_segments``, applied to one person). Returns ``r``, ``surrogate_mean``,
    ``surrogate_p95`` (95th percentile), ``p_value`` = fraction of surrogates with r >= the real
    r, and ``n_surrogates`` (those with a finite r). Needs at least two segments.
    ``segment`` (:func:`analytics.synchrony.lagged_xcorr_by_window`) belongs to the positions,
    as ``a`` does: the surrogates are judged on the same stretches as the real pair.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) != len(b):
        raise ValueError(f"lengths differ: a {len(a)}, b {len(b)}")
    seg = max(2, round(window_s * fps))
    if len(b) <= seg:
        raise ValueError(
            f"{len(b)} samples: segment shuffling needs more than one {seg}-sample window"
        )
    rng = np.random.default_rng(seed)
    real = peak_synchrony(a, b, fps, window_s, segment)
    surr = np.array(
        [
            peak_synchrony(a, _segment_shuffle(b, seg, rng), fps, window_s, segment)
            for _ in range(n_surrogates)
        ]
    )
    surr = surr[np.isfinite(surr)]
    if len(surr) == 0 or not np.isfinite(real):
        nan = float("nan")
        return {
            "r": real,
            "surrogate_mean": nan,
            "surrogate_p95": nan,
            "p_value": nan,
            "n_surrogates": len(surr),
        }
    return {
        "r": real,
        "surrogate_mean": float(surr.mean()),
        "surrogate_p95": float(np.percentile(surr, 95)),
        "p_value": float(np.mean(surr >= real)),
        "n_surrogates": int(len(surr)),
    }
