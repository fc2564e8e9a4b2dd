"""``pmrr query``: DuckDB views over the committed outputs, checked against pandas.

One real output for the module: ``pmrr process`` on the two-person interview sample (render off),
then files a plain reader would see but ``pmrr query`` must not: a staged, uncommitted ``smpl``
file under ``_staging/`` and every table of a video without manifest. The README's query examples
are read from the README itself and run, and their answers compared with pandas on the committed
files. An S3 output (moto server) written with the Store API checks the fsspec path, exact
values of the README questions and empty views for tables without files.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.tables import to_arrow
from pmrr_interviews import cli, samples
from pmrr_interviews.query import table_schemas
from storage import SCHEMAS, Store
from storage.store import _new_txn
from tests.s3_server import S3Server, s3  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
ORPHAN = "00000000deadbeef"  # partitions without a manifest: never committed
TABLES = list(table_schemas())


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _pmrr(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pmrr_interviews.cli", *argv],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600, input=stdin,
    )  # fmt: skip


def _query(capfd: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """The ``query`` subcommand in this process (parser + command, as ``pmrr`` runs them)."""
    capfd.readouterr()
    args = cli.build_parser().parse_args(["query", *argv])
    code = args.func(args)
    out, err = capfd.readouterr()
    return code, out, err


def _csv(capfd: pytest.CaptureFixture, out: Path | str, sql: str) -> pd.DataFrame:
    code, text, err = _query(capfd, str(out), "--format", "csv", sql)
    assert code == 0, err
    return pd.read_csv(io.StringIO(text), dtype={"video_id": str})


def readme_commands() -> list[list[str]]:
    """The argv of each ``pmrr`` command in the README's "Query helper" bash block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("**Query helper.**", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands: list[list[str]] = []
    for token in shlex.split(block, comments=True):
        if token == "pmrr":
            commands.append([])
        else:
            commands[-1].append(token)
    return commands


def _readme_sql() -> dict[str, list[str]]:
    """lean / nods / sync: the README's three questions (argv after ``query out/``)."""
    commands = readme_commands()
    assert all(c[:2] == ["query", "out/"] for c in commands), commands
    assert commands[0][2:] == ["--tables"]
    assert len(commands) == 4
    return dict(zip(["lean", "nods", "sync"], [c[2:] for c in commands[1:]], strict=True))


def _txn_of(pid: int) -> str:
    """A staging folder name as ``pid`` on this host makes them: <host>-<pid>-<created>-<hex>."""
    parts = _new_txn().split("-")  # the host may contain "-"
    parts[-3] = str(pid)
    return "-".join(parts)


# the real output --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("query") / "out"
    clip = samples.interview_clip(samples.cache_dir())
    run = _pmrr("process", str(clip), "--out", str(out), "--no-render", "--quiet")
    assert run.returncode == 0, run.stdout + run.stderr
    committed = Store(out).committed_videos()
    assert len(committed) == 1
    (video_id,) = committed
    # What pandas reads, per table, from the committed files (the manifests' paths).
    manifest = json.loads((out / "_manifests" / f"{video_id}.json").read_text())
    expected = {
        table: pd.read_parquet(out / rel).assign(video_id=video_id)
        for table, rel in manifest["tables"].items()
    }
    assert set(expected) == set(TABLES)
    # Every table of a video without manifest: plain readers see it, pmrr query must not.
    for table in TABLES:
        src = out / table / f"video_id={video_id}" / "part-0.parquet"
        (out / table / f"video_id={ORPHAN}").mkdir()
        shutil.copy(src, out / table / f"video_id={ORPHAN}" / "part-0.parquet")
    # A staged, uncommitted smpl file of the committed video, as a running `pmrr process` (here:
    # this process's parent, alive) leaves it, so recovery leaves it: 7 rows never to count.
    live = out / "_staging" / _txn_of(os.getppid()) / "smpl" / f"video_id={video_id}"
    live.mkdir(parents=True)
    pq.write_table(
        pq.read_table(out / manifest["tables"]["smpl"]).slice(0, 7), live / "part-0.parquet"
    )
    return {"out": out, "video_id": video_id, "expected": expected, "staged": live}


def test_row_counts_match_pandas_on_committed_files_only(output: dict, capfd) -> None:
    out, video_id, expected = output["out"], output["video_id"], output["expected"]
    sql = " union all ".join(
        f"select '{t}' as tab, video_id, count(*) as n from {t} group by video_id" for t in TABLES
    )
    got = _csv(capfd, out, sql)
    assert set(got["video_id"]) == {video_id}  # not the orphan
    counts = dict(zip(got["tab"], got["n"], strict=True))
    # a table without rows has no group (the sample's 3 s hold no event since walking is no
    # gesture: its only events were the pedestrian's arm swings)
    assert {t: counts.get(t, 0) for t in TABLES} == {t: len(expected[t]) for t in TABLES}
    assert counts["smpl"] > 7 and counts["features_summary"] == 3
    # a plain reader of the folder sees the orphan too (twice the rows); the staged file is
    # outside the table folder
    assert len(pd.read_parquet(out / "smpl")) == 2 * counts["smpl"]
    assert output["staged"].exists()
    # per video and frame, the same rows as pandas
    smpl = _csv(capfd, out, "select track_id, frame, t_s from smpl order by track_id, frame")
    want = expected["smpl"].sort_values(["track_id", "frame"])[["track_id", "frame", "t_s"]]
    np.testing.assert_array_equal(smpl[["track_id", "frame"]], want[["track_id", "frame"]])
    np.testing.assert_allclose(smpl["t_s"], want["t_s"])


def test_views_have_schema_columns_and_types(output: dict, capfd) -> None:
    code, text, err = _query(capfd, str(output["out"]), "--tables")
    assert code == 0, err
    for table, schema in table_schemas().items():
        n = len(output["expected"][table])
        videos = 1 if n else 0  # a table without rows holds no video
        assert f"{table}: {n} rows, {videos} videos, {len(schema)} columns" in text
    describe = _csv(
        capfd, output["out"], "select column_name, column_type from (describe smpl)"
    ).set_index("column_name")["column_type"]
    assert list(describe.index) == SCHEMAS["smpl"].names
    assert describe["video_id"] == "VARCHAR" and describe["track_id"] == "INTEGER"
    assert describe["joints3d_m"] == "FLOAT[]"


def test_recovery_runs_first(output: dict, capfd) -> None:
    """A staging folder of a dead process is cleared, as ``pmrr ls`` would; a live one stays."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = output["out"] / "_staging" / _txn_of(dead.pid) / "smpl"
    folder.mkdir(parents=True)
    (folder / "x.parquet").write_bytes(b"unfinished")
    code, _, err = _query(capfd, str(output["out"]), "select count(*) from videos")
    assert code == 0, err
    assert not folder.parent.exists()
    assert output["staged"].exists()


def test_readme_questions(output: dict, capfd) -> None:
    out, expected = output["out"], output["expected"]
    summary = expected["features_people"]
    sql = _readme_sql()
    columns = ["trunk_lean_forward_mean_deg", "trunk_lean_side_mean_deg", "nod_per_min"]
    assert summary[columns].notna().all().all()  # so SQL avg and pandas mean agree

    code, text, err = _query(capfd, str(out), *sql["lean"])  # as printed: a table
    assert code == 0, err
    assert "interviewee" in text and "lean_forward_deg" in text

    lean = _csv(capfd, out, sql["lean"][-1])
    assert list(lean.columns) == ["role", "people", "lean_forward_deg", "lean_side_deg"]
    assert summary["video_id"].nunique() == 1
    want = summary.groupby("role").agg(
        people=("person_id", "size"),
        lean_forward_deg=("trunk_lean_forward_mean_deg", "mean"),
        lean_side_deg=("trunk_lean_side_mean_deg", "mean"),
    )
    assert list(lean["role"]) == ["interviewee", "interviewer", "other"] == list(want.index)
    np.testing.assert_allclose(lean.iloc[:, 1:].to_numpy(float), want.to_numpy(float))

    nods = _csv(capfd, out, sql["nods"][-1])
    assert list(nods.columns) == ["role", "people", "nods_per_min", "nods"]
    want = summary.groupby("role").agg(
        people=("person_id", "size"),
        nods_per_min=("nod_per_min", "mean"),
        nods=("nod_count", "sum"),
    )
    np.testing.assert_allclose(nods.iloc[:, 1:].to_numpy(float), want.to_numpy(float))
    assert nods["nods"].sum() == (expected["events"]["event_type"] == "nod").sum()

    code, text, err = _query(capfd, str(out), *sql["sync"])  # --format csv in the README
    assert code == 0, err
    sync = pd.read_csv(io.StringIO(text), dtype={"video_id": str})
    pair = summary[(summary["role"] == "interviewee") & summary["partner_person_id"].notna()]
    assert len(sync) == len(pair) == 1  # one row per dyad, whatever its tracks
    assert list(sync.columns[:4]) == ["source_uri", "video_id", "interviewee", "interviewer"]
    row, want = sync.iloc[0], pair.iloc[0]
    assert row["video_id"] == output["video_id"]
    assert row["source_uri"] == expected["videos"]["source_uri"].iloc[0]
    assert (row["interviewee"], row["interviewer"]) == (
        want["person_id"],
        want["partner_person_id"],
    )
    for column in sync.columns[4:]:  # NaN (too short a clip for 10 s windows) == NaN
        np.testing.assert_allclose(row[column], want[column], equal_nan=True)


def test_bad_sql_is_one_line_exit_2(output: dict, capfd, monkeypatch) -> None:
    for sql, problem in [
        ("select count(*) from smlp", "smlp"),
        ("select no_such_column from tracks", "no_such_column"),
        ("select cast(role as integer) from tracks", "Conversion Error"),
        ("   ", "empty SQL"),
    ]:
        code, text, err = _query(capfd, str(output["out"]), sql)
        assert code == 2 and text == ""
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("pmrr query: ") and problem in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("select count(*) as n from videos"))
    code, text, err = _query(capfd, str(output["out"]), "-", "--format", "csv")
    assert (code, text) == (0, "n\n1\n"), err


def test_output_files_and_formats(output: dict, capfd, tmp_path: Path) -> None:
    out, tracks = output["out"], output["expected"]["tracks"].sort_values("track_id")
    sql = "select video_id, track_id, role, n_frames from tracks order by track_id"
    code, _, err = _query(capfd, str(out), sql, "--output", str(tmp_path / "t.parquet"))
    assert code == 0 and "wrote 3 rows" in err
    written = pd.read_parquet(tmp_path / "t.parquet")
    assert list(written["role"]) == list(tracks["role"])
    assert list(written["video_id"]) == [output["video_id"]] * 3
    code, text, err = _query(capfd, str(out), "--format", "json", sql)
    assert code == 0, err
    assert [r["n_frames"] for r in json.loads(text)] == list(tracks["n_frames"])
    code, _, err = _query(capfd, str(out), sql, "-o", str(tmp_path / "t.txt"))
    assert code == 2 and "t.txt" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.txt").exists()


def test_command_line_csv_bad_sql_and_missing_output(output: dict, tmp_path: Path) -> None:
    out = str(output["out"])
    run = _pmrr("query", out, "--format", "csv", "select * from smpl order by track_id, frame")
    assert run.returncode == 0, run.stderr
    frame = pd.read_csv(io.StringIO(run.stdout), dtype={"video_id": str})
    assert len(frame) == len(output["expected"]["smpl"])
    assert list(frame.columns) == SCHEMAS["smpl"].names
    joints = np.array(json.loads(frame["joints3d_m"].iloc[0]))
    assert joints.shape == (49 * 3,)

    bad = _pmrr("query", out, "selec count(*) from smpl")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == 'pmrr query: Parser Error: syntax error at or near "selec"\n'

    missing = _pmrr("query", str(tmp_path / "nowhere"), "select 1")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"pmrr query: {tmp_path / 'nowhere'}: no such output folder"


# S3 -------------------------------------------------------------------------------------------
A, B, C = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"

SUMMARY = pd.DataFrame(
    [
        # video, track, person, role, partner person, partner track, lean fwd, lean side,
        # nods/min, nods, sync motion r, lag, sync head r, lag
        (A, 0, 0, "interviewee", 1, 1, 10.0, 1.0, 6.0, 3, 0.5, 0.2, 0.3, -0.1),
        (A, 1, 1, "interviewer", 0, 0, 2.0, -1.0, 2.0, 1, 0.5, -0.2, 0.3, 0.1),
        (B, 0, 0, "interviewer", 1, 1, 4.0, 0.0, 0.0, 0, 0.25, 0.4, 0.6, 0.0),
        (B, 1, 1, "interviewee", 0, 0, 20.0, 3.0, 4.0, 2, 0.25, -0.4, 0.6, 0.0),
        (B, 2, 2, "other", None, None, -5.0, 2.0, 1.0, 1, None, None, None, None),
        (B, 3, 2, "other", None, None, -5.0, 2.0, 1.0, 1, None, None, None, None),  # a later shot
        # the interviewee in a later shot: the dyad's synchrony again (one row per dyad below)
        (B, 4, 1, "interviewee", 0, 0, 15.0, 2.0, 5.0, 0, 0.25, -0.4, 0.6, 0.0),
    ],
    columns=[
        "video_id", "track_id", "person_id", "role", "partner_person_id", "partner_track_id",
        "trunk_lean_forward_mean_deg",
        "trunk_lean_side_mean_deg", "nod_per_min", "nod_count", "sync_motion_peak_r_ratio",
        "sync_motion_peak_lag_s", "sync_head_peak_r_ratio", "sync_head_peak_lag_s",
    ],
)  # fmt: skip


PEOPLE = pd.DataFrame(
    [
        # video, person, role, partner, tracks, lean fwd, lean side, nods/min, nods, sync motion r,
        # lag, sync head r, lag
        (A, 0, "interviewee", 1, 1, 10.0, 1.0, 6.0, 3, 0.5, 0.2, 0.3, -0.1),
        (A, 1, "interviewer", 0, 1, 2.0, -1.0, 2.0, 1, 0.5, -0.2, 0.3, 0.1),
        (B, 0, "interviewer", 1, 1, 4.0, 0.0, 0.0, 0, 0.25, 0.4, 0.6, 0.0),
        (B, 1, "interviewee", 0, 2, 20.0, 3.0, 4.0, 2, 0.25, -0.4, 0.6, 0.0),
        (B, 2, "other", None, 2, -5.0, 2.0, 1.0, 2, None, None, None, None),  # in two shots
    ],
    columns=[
        "video_id", "person_id", "role", "partner_person_id", "n_tracks",
        "trunk_lean_forward_mean_deg", "trunk_lean_side_mean_deg", "nod_per_min", "nod_count",
        "sync_motion_peak_r_ratio", "sync_motion_peak_lag_s", "sync_head_peak_r_ratio",
        "sync_head_peak_lag_s",
    ],
)  # fmt: skip


def _videos_row(video_id: str) -> pa.Table:
    schema = SCHEMAS["videos"]
    values = {"video_id": video_id, "source_uri": f"s3://archive/{video_id}.mp4"}
    return pa.table({f.name: pa.array([values.get(f.name)], f.type) for f in schema}, schema=schema)


def test_s3_output(s3: S3Server, capfd) -> None:  # noqa: F811
    url = s3.url("study")
    store = Store(url)
    for video_id in (A, B):
        txn = store.begin(video_id)
        txn.write_table("videos", _videos_row(video_id), SCHEMAS["videos"])
        rows = SUMMARY[SUMMARY["video_id"] == video_id]
        txn.write_table("features_summary", to_arrow(rows, "features_summary"))
        rows = PEOPLE[PEOPLE["video_id"] == video_id]
        txn.write_table("features_people", to_arrow(rows, "features_people"))
        txn.commit()
    # not committed: a staged transaction of this live process, and partitions of a video
    # without manifest (huge leans and nod rates that would show in every answer)
    staged = store.begin(C)
    for table, rows in (("features_summary", SUMMARY), ("features_people", PEOPLE)):
        fake = rows.assign(trunk_lean_forward_mean_deg=1000.0, nod_per_min=1000.0, video_id=C)
        staged.write_table(table, to_arrow(fake, table))
        with store.fs.open(store.output_path(table, C), "wb") as handle:
            pq.write_table(to_arrow(fake, table), handle)
    with store.fs.open(store.output_path("videos", C), "wb") as handle:
        pq.write_table(_videos_row(C), handle)

    sql = _readme_sql()
    lean = _csv(capfd, url, sql["lean"][-1]).set_index("role")
    # people, not tracks: B's interviewee and "other" have two tracks (two shots) each
    assert lean["people"].to_dict() == {"interviewee": 2, "interviewer": 2, "other": 1}
    assert lean["lean_forward_deg"].to_dict() == {
        "interviewee": 15.0,
        "interviewer": 3.0,
        "other": -5.0,
    }
    assert lean["lean_side_deg"].to_dict() == {"interviewee": 2.0, "interviewer": -0.5, "other": 2}
    nods = _csv(capfd, url, sql["nods"][-1]).set_index("role")
    assert nods["nods_per_min"].to_dict() == {"interviewee": 5.0, "interviewer": 1.0, "other": 1}
    assert nods["nods"].to_dict() == {"interviewee": 5, "interviewer": 1, "other": 2}
    want = PEOPLE.groupby("role")[["nod_per_min", "nod_count"]].agg(["mean", "sum"])
    assert nods["nods_per_min"].to_dict() == want[("nod_per_min", "mean")].to_dict()

    code, text, err = _query(capfd, url, *sql["sync"])
    assert code == 0, err
    sync = pd.read_csv(io.StringIO(text), dtype={"video_id": str})
    assert sync[["video_id", "interviewee", "interviewer"]].values.tolist() == [
        [A, 0, 1],
        [B, 1, 0],
    ]
    assert list(sync["source_uri"]) == [f"s3://archive/{A}.mp4", f"s3://archive/{B}.mp4"]
    assert sync["sync_motion_peak_r_ratio"].tolist() == [0.5, 0.25]
    assert sync["sync_motion_peak_lag_s"].tolist() == [0.2, -0.4]  # the interviewee leads A
    assert sync["sync_head_peak_r_ratio"].tolist() == [0.3, 0.6]

    # tables without any file: empty views with the schema's columns
    empty = _csv(capfd, url, "select (select count(*) from smpl) as n, count(*) as e from events")
    assert empty[["n", "e"]].values.tolist() == [[0, 0]]
    code, text, err = _query(capfd, url, sql["nods"][-1].replace("features_people", "events e"))
    assert code == 2 and "role" in err  # the view exists, with its own columns only
    code, text, err = _query(capfd, url, "--tables")
    assert code == 0, err
    assert "smpl: 0 rows, 0 videos, 18 columns" in text
    assert "features_summary: 7 rows, 2 videos, 86 columns" in text
    assert "features_people: 5 rows, 2 videos, 85 columns" in text

    # the real command line against the bucket (AWS_ENDPOINT_URL from the fixture)
    run = _pmrr("query", url, "--format", "csv", "select video_id, count(*) as n from videos")
    assert run.returncode == 2 and "video_id" in run.stderr  # not grouped: DuckDB says so
    run = _pmrr("query", url, "--format", "json", "select count(*) as n from features_summary")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [{"n": len(SUMMARY)}]
    assert store.fs.exists(store.staging_path(staged.txn))  # live: left alone
    staged.abort()
