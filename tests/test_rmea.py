"""rMEA input files and the segment-shuffling synchrony baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.dyad import Dyad, dyad_signals
from analytics.rmea import dyad_motion, surrogate_synchrony, write_rmea, write_windows_csv

FPS = 25.0


def _motion(n: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth non-negative signal like motion energy (low-passed noise, ~0.3 s correlation)."""
    kernel = np.exp(-0.5 * (np.arange(-20, 21) / 5.0) ** 2)
    return np.abs(np.convolve(rng.normal(size=n + 40), kernel / kernel.sum(), mode="valid"))


def test_delayed_copy_beats_surrogates():
    rng = np.random.default_rng(0)
    n = int(90 * FPS)
    delay = int(0.5 * FPS)
    a = _motion(n + delay, rng)
    b = a[:-delay] + 0.05 * rng.normal(size=n)  # b[t] = a[t - 0.5 s]: a leads
    a = a[delay:]
    out = surrogate_synchrony(a, b, FPS, window_s=5.0, n_surrogates=200, seed=1)
    assert out["r"] > 0.8
    assert out["r"] > out["surrogate_p95"] + 0.2
    assert out["p_value"] < 0.05
    assert out["surrogate_mean"] < out["surrogate_p95"]


def test_independent_noise_is_not_significant():
    rng = np.random.default_rng(5)
    n = int(90 * FPS)
    a, b = _motion(n, rng), _motion(n, rng)
    out = surrogate_synchrony(a, b, FPS, window_s=5.0, n_surrogates=200, seed=2)
    assert out["p_value"] > 0.05
    assert out["n_surrogates"] == 200


def test_surrogates_are_reproducible_and_need_two_segments():
    rng = np.random.default_rng(3)
    a, b = _motion(500, rng), _motion(500, rng)
    assert surrogate_synchrony(a, b, FPS, 4.0, 20, seed=7) == surrogate_synchrony(
        a, b, FPS, 4.0, 20, seed=7
    )
    with pytest.raises(ValueError):
        surrogate_synchrony(a[:50], b[:50], FPS, 4.0, 5)


def _frames_table() -> pd.DataFrame:
    # track 1 on frames 0..5 (frame 3 without a value), track 4 on frames 2..8
    t1 = pd.DataFrame(
        {
            "track_id": 1,
            "frame": np.arange(6),
            "motion_energy_m_per_s": [0.1, 0.2, 0.3, np.nan, 0.5, 0.6],
        }
    )
    t4 = pd.DataFrame(
        {"track_id": 4, "frame": np.arange(2, 9), "motion_energy_m_per_s": np.arange(7) / 10.0}
    )
    other = pd.DataFrame({"track_id": 9, "frame": np.arange(20), "motion_energy_m_per_s": 1.0})
    df = pd.concat([t4, other, t1], ignore_index=True).sample(frac=1.0, random_state=0)
    df["video_id"] = "v"
    return df


def test_rmea_csv_round_trip(tmp_path):
    path = write_rmea(_frames_table(), Dyad.of_tracks(1, 4), tmp_path / "dyad.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "P1,P4"
    assert lines[1] == "0.1,NA"
    back = pd.read_csv(path)  # "NA" is a default NA string of pandas, as of R's read.csv
    assert list(back.columns) == ["P1", "P4"]
    assert len(back) == 9  # frames 0..8: the union of both tracks
    expect_1 = [0.1, 0.2, 0.3, np.nan, 0.5, 0.6, np.nan, np.nan, np.nan]
    expect_4 = [np.nan, np.nan] + list(np.arange(7) / 10.0)
    np.testing.assert_allclose(back["P1"], expect_1)
    np.testing.assert_allclose(back["P4"], expect_4)
    # order of the pair = order of the columns
    swapped = pd.read_csv(write_rmea(_frames_table(), Dyad.of_tracks(4, 1), tmp_path / "s.csv"))
    assert list(swapped.columns) == ["P4", "P1"]
    with pytest.raises(ValueError):
        write_rmea(_frames_table(), Dyad.of_tracks(1, 5), tmp_path / "missing.csv")


def test_a_dyad_of_several_tracks_is_one_column_each_on_every_frame(tmp_path):
    """Person 0 on tracks 1 then 7, person 3 on tracks 4 then 9 (after a cut at frame 9): one
    column per person, every frame from the first to the last (NA between), and the stretches
    of overlapping tracks as segments, so synchrony never pairs frames across the cut."""
    rows = [
        pd.DataFrame({"track_id": t, "frame": np.arange(lo, hi + 1), "has_data": True})
        for t, lo, hi in ((1, 0, 5), (4, 2, 8), (7, 10, 14), (9, 11, 14))
    ]
    frames = pd.concat(rows, ignore_index=True)
    frames["motion_energy_m_per_s"] = frames["track_id"] + frames["frame"] / 100.0
    dyad = Dyad(0, 3, (1, 7), (4, 9))
    table = dyad_motion(frames, dyad)
    _, _, segment = dyad_signals(frames, dyad, ("motion_energy_m_per_s",))
    assert list(table.columns) == ["P0", "P3"] and table.index.tolist() == list(range(15))
    assert segment.tolist() == [0] * 9 + [-1] + [1] * 5
    np.testing.assert_allclose(table.loc[[0, 5, 10], "P0"], [1.0, 1.05, 7.10])
    np.testing.assert_allclose(table.loc[[2, 8, 11], "P3"], [4.02, 4.08, 9.11])
    assert table.loc[9].isna().all() and np.isnan(table.loc[10, "P3"])
    back = pd.read_csv(write_rmea(frames, dyad, tmp_path / "dyad.csv"))
    np.testing.assert_allclose(back.to_numpy(), table.to_numpy(), rtol=1e-5)


def test_windows_csv(tmp_path):
    windows = pd.DataFrame(
        {
            "video_id": "v",
            "track_id": [4, 1, 1, 4],
            "window_s": 1.0,
            "window_index": [1, 1, 0, 0],
            "motion_energy_mean_m_per_s": [0.4, np.nan, 0.1, 0.3],
            "shrugging_time_ratio": [0.0, 0.5, 1.0, 0.25],
        }
    )
    back = pd.read_csv(write_windows_csv(windows, tmp_path / "w" / "windows.csv"))
    assert list(back.columns) == list(windows.columns)
    assert back[["track_id", "window_index"]].values.tolist() == [[1, 0], [1, 1], [4, 0], [4, 1]]
    assert np.isnan(back.loc[1, "motion_energy_mean_m_per_s"])
