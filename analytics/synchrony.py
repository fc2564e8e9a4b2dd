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

#: Largest lag examined (s); also capped at half the window. Ramseyer & Tschacher use +-5 s on
#: 60 s windows of psychotherapy sessions; conversational mimicry is mostly within 3 s.
SYNC_MAX_LAG_S = 3.0
SYNC_MIN_VALID_FRACTION = 0.5


def _shift(x: np.ndarray, lag: int) -> np.ndarray:
    """y[t] = x[t + lag], NaN outside."""
    y = np.full_like(x, np.nan)
    if abs(lag) >= len(x):
        return y
    if lag >= 0:
        y[: len(x) - lag] = x[lag:]
    else:
        y[-lag:] = x[: len(x) + lag]
    return y


def windowed_lagged_xcorr(
    a: np.ndarray, b: np.ndarray, fps: float, window_s: float, max_lag_s: float = SYNC_MAX_LAG_S
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r per non-overlapping window (starting at t = 0) and lag.

    Returns (lags_s (L,), r (n_windows, L)). The window is fixed on ``a``; ``b`` is read
    shifted, also from outside the window, so every lag uses the full window. Pairs with a NaN
    are dropped; a window/lag with fewer than SYNC_MIN_VALID_FRACTION valid pairs or without
    variance is NaN.
    """
    w = max(2, round(window_s * fps))
    max_lag = round(min(max_lag_s, window_s / 2) * fps)
    lags = np.arange(-max_lag, max_lag + 1)
    n_win = int(np.ceil(len(a) / w))
    pad = n_win * w - len(a)
    a_w = np.concatenate([a, np.full(pad, np.nan)]).reshape(n_win, w)
    r = np.full((n_win, len(lags)), np.nan)
    for k, lag in enumerate(lags):  # loop over lags (tens), vectorised over frames and windows
        b_w = np.concatenate([_shift(b, int(lag)), np.full(pad, np.nan)]).reshape(n_win, w)
        ok = ~np.isnan(a_w) & ~np.isnan(b_w)
        n = ok.sum(1)
        x, y = np.where(ok, a_w, 0.0), np.where(ok, b_w, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx, my = x.sum(1) / n, y.sum(1) / n
            cov = (x * y).sum(1) / n - mx * my
            vx = (x * x).sum(1) / n - mx**2
            vy = (y * y).sum(1) / n - my**2
            rr = cov / np.sqrt(vx * vy)
        good = (n >= SYNC_MIN_VALID_FRACTION * w) & (vx > 1e-12) & (vy > 1e-12)
        r[:, k] = np.where(good, np.clip(rr, -1.0, 1.0), np.nan)
    return lags / fps, r


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
