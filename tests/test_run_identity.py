"""Run identity end to end: real flow runs on a real clip.

New body-model files recompute the stages that use them (and only those); a failing analytics
stage keeps the core tables and is recorded; the next run completes only what is missing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import analytics.pipeline
from flows.config import PipelineConfig
from flows.video import process_video
from pmrr_interviews import samples
from pmrr_interviews.cli import main
from pmrr_model.assets import standin_assets
from storage import Store

CONFIG = PipelineConfig(render=False, analytics=True, export_npz=True)


@pytest.fixture(scope="module")
def clip() -> Path:
    return samples.carphone_clip(samples.cache_dir(), seconds=1.0)


def _user_data_dir(root: Path) -> Path:
    """A complete data/ folder in the seed's SMPL layout (holding the stand-in's files: the
    licensed SMPL files cannot be had here; what matters is a new, complete asset set)."""
    standin = standin_assets()
    (root / "smpl").mkdir(parents=True)
    shutil.copy(standin.smpl_dir / "SMPL_NEUTRAL.pkl", root / "smpl" / "SMPL_NEUTRAL.pkl")
    for path in (
        standin.mean_params,
        standin.mesh_downsampling,
        standin.j_regressor_extra,
        standin.j_regressor_h36m,
    ):
        shutil.copy(path, root / path.name)
    return root


def test_new_assets_recompute_and_failures_are_isolated(clip: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    store = Store(out)
    first = process_video(str(clip), out, config=CONFIG)
    assert first["status"] == "ok" and first["assets"].startswith("standin:")
    video_id = first["video_id"]
    assert process_video(str(clip), out, config=CONFIG)["status"] == "skipped"
    before = store.manifest(video_id)["fingerprints"]

    # 1. The user's files appear: not skipped; estimate recomputed, detection reused.
    data = _user_data_dir(tmp_path / "data")
    cfg = CONFIG.model_copy(update={"data_dir": str(data)})
    second = process_video(str(clip), out, config=cfg)
    assert second["status"] == "ok"
    assert {"estimate", "smooth", "analytics"} <= set(second["timings"])
    assert not {"probe", "shots", "track"} & set(second["timings"])  # from the stage cache
    videos = store.read_table("videos", [video_id]).to_pandas()
    assert videos["assets"].iloc[0].startswith("smpl:")
    manifest = store.manifest(video_id)
    assert manifest["assets"].startswith("smpl:")
    after = json.loads(videos["fingerprints_json"].iloc[0])
    assert manifest["fingerprints"] == after
    assert after["track"] == before["track"] and after["estimate"] != before["estimate"]

    # 2. Analytics breaks: core tables still commit, the failure is recorded and listed.
    def broken(*_args, **_kwargs):
        raise RuntimeError("synthetic analytics fault")

    (track,) = store.read_table("tracks", [video_id]).to_pandas()["track_id"]
    roles = {"roles": {clip.name: {int(track): "interviewer"}}}
    cfg = cfg.model_copy(update=roles)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analytics.pipeline, "compute_video_features", broken)
        third = process_video(str(clip), out, config=cfg)
    assert third["status"] == "partial"
    assert "synthetic analytics fault" in third["failures"]["analytics"]
    assert set(store.read_table("tracks", [video_id]).to_pandas()["role"]) == {"interviewer"}
    assert store.read_table("features_summary", [video_id]).num_rows == 0  # stale ones dropped
    videos = store.read_table("videos", [video_id]).to_pandas()
    assert list(videos["failed_stages"].iloc[0]) == ["analytics"]
    assert "synthetic analytics fault" in videos["error"].iloc[0]

    # 3. The next run completes only the missing stage.
    fourth = process_video(str(clip), out, config=cfg)
    assert fourth["status"] == "ok" and not fourth["failures"]
    assert "analytics" in fourth["timings"]
    assert not {"track", "estimate", "smooth"} & set(fourth["timings"])
    summary = store.read_table("features_summary", [video_id]).to_pandas()
    assert list(summary["role"]) == ["interviewer"]
    assert process_video(str(clip), out, config=cfg)["status"] == "skipped"


def test_pmrr_ls_lists_status_and_failed_stage(clip: Path, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analytics.pipeline, "compute_video_features", _raise)
        row = process_video(str(clip), out, config=CONFIG)
    assert main(["ls", out]) == 0
    printed = capsys.readouterr().out
    (line,) = [x for x in printed.splitlines() if x.startswith(row["video_id"])]
    assert "partial" in line and "analytics" in line and str(clip) in line
    assert "landmark-fit" in line and "standin:" in line


def _raise(*_args, **_kwargs):
    raise ValueError("boom")
