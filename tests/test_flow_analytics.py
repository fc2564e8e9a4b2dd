"""Analytics inside the per-video flow: plot PNGs committed and attached as Prefect artifacts,
and a per-video roles override that changes the committed roles (and only re-commits)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from flows.video import process_video
from pmrr_interviews import samples
from storage import Store

CONFIG = {"detect_every_k": 3, "render": False, "analytics": True}


@pytest.fixture(scope="module")
def interview_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("analytics-flow")
    clip = samples.interview_clip(samples.cache_dir())
    row = process_video(str(clip), str(out), config=CONFIG)
    return {"out": out, "clip": clip, "row": row, "store": Store(out)}


async def _artifacts(key: str) -> list:
    async with get_client() as client:
        return await client.read_artifacts(  # newest first: the Prefect database outlives a test
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
        )


def test_plots_are_committed_and_shown_in_the_ui(interview_run: dict) -> None:
    """The UI artifact embeds exactly the committed PNGs (a local path would be a broken image
    in the browser) and names the estimator and the stand-in body."""
    video_id = interview_run["row"]["video_id"]
    plots = sorted(Path(interview_run["out"], "plots", video_id).glob("*.png"))
    assert [p.name for p in plots] == [f"{video_id}_events.png", f"{video_id}_timeseries.png"]
    assert all(p.stat().st_size > 10_000 for p in plots)  # real figures, not empty canvases
    (artifact,) = asyncio.run(_artifacts(f"plots-{video_id}"))[:1]
    assert artifact.type == "markdown"
    embedded = re.findall(
        r"!\[([^\]]+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", artifact.data
    )
    assert [name for name, _ in embedded] == [p.name for p in plots]
    for (_, data), path in zip(embedded, plots, strict=True):
        assert base64.b64decode(data) == path.read_bytes()
    assert "landmark-fit" in artifact.data and "**not SMPL**" in artifact.data
    summary = asyncio.run(_artifacts(f"video-{video_id}"))[0]
    assert "stand-in body" in summary.data and "| estimate |" in summary.data
    people = asyncio.run(_artifacts(f"people-{video_id}"))[0]
    assert people.type == "table" and "standin:" in people.description
    assert "interviewer" in str(people.data) and "interviewee" in str(people.data)
    tracks = interview_run["store"].read_table("tracks", [video_id]).to_pandas()
    rows = json.loads(people.data) if isinstance(people.data, str) else people.data
    assert sorted(r["person_id"] for r in rows) == sorted(tracks["person_id"].unique())


def test_roles_override_recommits_with_the_given_roles(interview_run: dict) -> None:
    store, video_id = interview_run["store"], interview_run["row"]["video_id"]
    before = store.read_table("tracks", [video_id]).to_pandas()
    shot0 = before[before["shot_id"] == 0].sort_values("track_id")
    assert len(shot0) == 2
    # Swap what the heuristic chose for the two people of shot 0.
    swapped = {
        int(t): ("interviewer" if r == "interviewee" else "interviewee")
        for t, r in zip(shot0["track_id"], shot0["role"], strict=True)
    }
    row = process_video(
        str(interview_run["clip"]),
        str(interview_run["out"]),
        config={**CONFIG, "roles": {interview_run["clip"].name: swapped}},
    )
    assert row["status"] == "ok"  # not "skipped": the override changes what is committed
    after = store.read_table("tracks", [video_id]).to_pandas()
    assert len(after) == len(before)
    got = dict(zip(after["track_id"].astype(int), after["role"], strict=True))
    assert all(got[t] == r for t, r in swapped.items())
    summary = store.read_table("features_summary", [video_id]).to_pandas()
    assert (
        dict(zip(summary["track_id"].astype(int), summary["role"], strict=True))[
            next(iter(swapped))
        ]
        == swapped[next(iter(swapped))]
    )
    # The same override again is already committed: skipped.
    again = process_video(
        str(interview_run["clip"]),
        str(interview_run["out"]),
        config={**CONFIG, "roles": {interview_run["clip"].name: swapped}},
    )
    assert again["status"] == "skipped"


def test_research_files_are_committed(interview_run: dict) -> None:
    """ELAN, R (windows CSV, rMEA dyad) and AMASS-style files of the two-person interview."""
    import numpy as np
    import pandas as pd
    import pympi

    out, video_id = Path(interview_run["out"]), interview_run["row"]["video_id"]
    folder = out / "annotations" / video_id
    eaf = pympi.Elan.Eaf(str(folder / f"{video_id}.eaf"))
    tracks = interview_run["store"].read_table("tracks", [video_id]).to_pandas()
    role_tiers = {t for t in eaf.get_tier_names() if t.endswith(" role")}
    assert role_tiers == {f"P{p} role" for p in tracks["person_id"]}  # a tier set per person
    (dyad,) = folder.glob("rmea_P*_P*.csv")
    motion = pd.read_csv(dyad, na_values="NA")
    assert motion.shape[1] == 2 and len(motion) > 40
    # the dyad's two people, named as their ELAN tiers, the interviewer first
    roles = tracks.groupby("person_id")["role"].first()
    pair = (roles[roles == "interviewer"].index[0], roles[roles == "interviewee"].index[0])
    assert dyad.name == f"rmea_P{pair[0]}_P{pair[1]}.csv"
    assert list(motion.columns) == [f"P{pair[0]}", f"P{pair[1]}"]
    synchrony = pd.read_csv(folder / "synchrony.csv")
    # both signals of the sync_* columns; a 3 s clip holds no two 10 s windows
    assert list(synchrony["window_s"]) == [1.0, 1.0]
    assert list(synchrony["signal"]) == ["motion_energy_m_per_s", "head_angular_speed_deg_per_s"]
    assert {"r", "surrogate_mean", "surrogate_p95", "p_value"} <= set(synchrony.columns)
    windows = pd.read_csv(folder / "windows.csv")
    assert set(windows["track_id"]) <= set(tracks["track_id"])
    manifest = interview_run["store"].manifest(video_id)
    assert manifest["artifacts"]["annotations"] == f"annotations/{video_id}"
    amass = sorted((out / "exports" / video_id).glob("amass_track_*.npz"))
    assert len(amass) == len(tracks)
    first = np.load(amass[0], allow_pickle=False)
    assert first["poses"].shape[1] == 72 and str(first["gender"]) == "neutral"
