"""ELAN export (analytics.elan.write_eaf): pympi round trip, EAF XML structure, empty events,
overlap handling, atomic replace and media URLs, on the events of the two-person demo sequence."""

from __future__ import annotations

import os
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

pympi = pytest.importorskip("pympi")
from pympi import Elan  # noqa: E402

from analytics import elan  # noqa: E402
from analytics import synthetic as S  # noqa: E402
from analytics.calibration import neutral_from_body_model  # noqa: E402
from analytics.pipeline import compute_video_features  # noqa: E402
from analytics.tables import empty_frame  # noqa: E402

FPS = 25.0


@pytest.fixture(scope="module")
def demo():
    """(events, tracks with frames, duration_s) of the demo interview."""
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    body = BodyModel(resolve_assets())
    smpl = S.demo_sequence(body, fps=FPS)
    n_frames = int(smpl["frame"].max()) + 1
    out = compute_video_features(smpl, FPS, n_frames, neutral=neutral_from_body_model(body))
    roles = out["features_summary"].attrs["tracks_roles"]
    span = smpl.groupby("track_id")["frame"].agg(["min", "max"])
    tracks = pd.DataFrame(
        {
            "track_id": span.index.astype("int64"),
            "role": [roles[t] for t in span.index],
            "first_frame": span["min"].to_numpy(),
            "last_frame": span["max"].to_numpy(),
        }
    )
    return out["events"], tracks, n_frames / FPS


def _times(tracks: pd.DataFrame) -> pd.DataFrame:
    return tracks.assign(
        start_s=tracks["first_frame"] / FPS, end_s=(tracks["last_frame"] + 1) / FPS
    ).drop(columns=["first_frame", "last_frame"])


def test_round_trip_tiers_counts_and_times(demo, tmp_path):
    events, tracks, duration = demo
    assert {"nod", "shake", "gesture_stroke"} <= set(events["event_type"])
    path = elan.write_eaf(tmp_path / "v.eaf", "v.mp4", events, tracks, duration, fps=FPS)
    assert path == tmp_path / "v.eaf"
    eaf = Elan.Eaf(str(path))
    roles = dict(zip(tracks["track_id"], tracks["role"], strict=True))

    expected = {f"P{t} role" for t in roles}
    groups = events.groupby(["track_id", "event_type"])
    expected |= {f"P{t} {roles[t]}: {k}" for t, k in groups.groups}
    assert set(eaf.get_tier_names()) == expected
    assert "P1 interviewee: nod" in expected and "P2 interviewer: shake" in expected

    for (t, kind), rows in groups:
        tier = f"P{t} {roles[t]}: {kind}"
        assert eaf.tiers[tier][2]["PARTICIPANT"] == f"P{t}"
        got = sorted(eaf.get_annotation_data_for_tier(tier))
        assert len(got) == len(rows)
        want = rows.sort_values("start_s")
        for (s, e, value), (_, r) in zip(got, want.iterrows(), strict=True):
            assert abs(s - r["start_s"] * 1000) <= 1 and abs(e - r["end_s"] * 1000) <= 1
            assert value.startswith(kind)
            if kind == "gesture_stroke":
                assert value == f"gesture_stroke {r['side']}"

    for t, role in roles.items():
        tier = f"P{t} role"
        assert eaf.tiers[tier][2]["PARTICIPANT"] == f"P{t}"
        ((s, e, value),) = eaf.get_annotation_data_for_tier(tier)
        row = tracks[tracks["track_id"] == t].iloc[0]
        assert value == role
        assert s == round(row["first_frame"] / FPS * 1000)
        assert e == round((row["last_frame"] + 1) / FPS * 1000)

    (media,) = eaf.media_descriptors
    assert media["MIME_TYPE"] == "video/mp4"
    assert media["RELATIVE_MEDIA_URL"] == "./v.mp4"
    assert media["MEDIA_URL"] == (tmp_path / "v.mp4").resolve().as_uri()


def test_tracks_given_in_seconds_equal_frames(demo, tmp_path):
    events, tracks, duration = demo
    a = Elan.Eaf(
        str(elan.write_eaf(tmp_path / "a.eaf", "v.mp4", events, tracks, duration, fps=FPS))
    )
    b = Elan.Eaf(str(elan.write_eaf(tmp_path / "b.eaf", "v.mp4", events, _times(tracks), duration)))
    assert a.get_tier_names() == b.get_tier_names()
    for tier in a.get_tier_names():
        assert sorted(a.get_annotation_data_for_tier(tier)) == sorted(
            b.get_annotation_data_for_tier(tier)
        )


def _check_xml(path: Path) -> ElementTree.Element:
    root = ElementTree.parse(path).getroot()
    assert root.tag == "ANNOTATION_DOCUMENT"
    written_by_pympi = Elan.Eaf().adocument  # the document attributes pympi writes
    for key in ("VERSION", "FORMAT", "xsi:noNamespaceSchemaLocation"):
        ns_key = key.replace("xsi:", "{http://www.w3.org/2001/XMLSchema-instance}")
        assert root.get(ns_key) == written_by_pympi[key], key
    assert root.get("AUTHOR") and root.get("DATE")
    slots = {}
    for ts in root.iter("TIME_SLOT"):
        assert ts.get("TIME_SLOT_ID") not in slots
        slots[ts.get("TIME_SLOT_ID")] = int(ts.get("TIME_VALUE"))
    ids = set()
    for tier in root.iter("TIER"):
        assert tier.get("PARTICIPANT", "").startswith("P")
        for ann in tier.iter("ALIGNABLE_ANNOTATION"):
            assert ann.get("ANNOTATION_ID") not in ids
            ids.add(ann.get("ANNOTATION_ID"))
            ref1, ref2 = ann.get("TIME_SLOT_REF1"), ann.get("TIME_SLOT_REF2")
            assert ref1 in slots and ref2 in slots
            assert slots[ref1] <= slots[ref2]
    (media,) = root.iter("MEDIA_DESCRIPTOR")
    assert media.get("MIME_TYPE") == "video/mp4"
    last = {p.get("NAME"): p.text for p in root.iter("PROPERTY")}["lastUsedAnnotation"]
    assert int(last) == max((int(i[1:]) for i in ids), default=0)
    return root


def test_xml_structure(demo, tmp_path):
    events, tracks, duration = demo
    path = elan.write_eaf(tmp_path / "v.eaf", "v.mp4", events, tracks, duration, fps=FPS)
    root = _check_xml(path)
    n = sum(1 for _ in root.iter("ALIGNABLE_ANNOTATION"))
    assert n == len(events) + len(tracks)


def test_empty_events_gives_role_tiers_only(demo, tmp_path):
    _, tracks, duration = demo
    for i, empty in enumerate([empty_frame("events"), pd.DataFrame()]):
        path = elan.write_eaf(tmp_path / f"e{i}.eaf", "v.mp4", empty, tracks, duration, fps=FPS)
        _check_xml(path)
        eaf = Elan.Eaf(str(path))
        assert sorted(eaf.get_tier_names()) == ["P1 role", "P2 role"]
        for tier in eaf.get_tier_names():
            assert len(eaf.get_annotation_data_for_tier(tier)) == 1


def _assert_disjoint(eaf: Elan.Eaf) -> None:
    for tier in eaf.get_tier_names():
        spans = sorted(eaf.get_annotation_data_for_tier(tier))
        for s, e, _ in spans:
            assert e > s
        for (_, e0, _), (s1, _, _) in zip(spans, spans[1:], strict=False):
            assert s1 >= e0, tier


def test_overlapping_events_become_disjoint_annotations(demo, tmp_path):
    events, tracks, duration = demo
    strokes = events[(events["event_type"] == "gesture_stroke") & (events["track_id"] == 1)]
    first = strokes.sort_values("start_s").iloc[0]
    extra = pd.DataFrame(
        [
            # the other hand during the first stroke: overlaps it
            {
                **first,
                "side": "left",
                "start_s": first["start_s"] + 0.4,
                "end_s": first["end_s"] + 0.3,
            },
            # a zero-length event of its own
            {**first, "event_type": "nod", "side": None, "start_s": 0.5, "end_s": 0.5},
            # a duplicate of the demo's nod (fully contained)
            *[dict(r) for _, r in events[events["event_type"] == "nod"].iterrows()],
        ]
    )
    doubled = pd.concat([events, extra], ignore_index=True)
    path = elan.write_eaf(tmp_path / "o.eaf", "v.mp4", doubled, tracks, duration, fps=FPS)
    _check_xml(path)
    eaf = Elan.Eaf(str(path))
    _assert_disjoint(eaf)

    got = sorted(eaf.get_annotation_data_for_tier("P1 interviewee: gesture_stroke"))
    assert len(got) == len(strokes)  # the overlapping pair merged into one annotation
    s, e, value = got[0]
    assert s == round(first["start_s"] * 1000) and e == round((first["end_s"] + 0.3) * 1000)
    assert value == "gesture_stroke right + gesture_stroke left"
    nods = sorted(eaf.get_annotation_data_for_tier("P1 interviewee: nod"))
    assert nods[0][:2] == (500, 501)  # zero length -> 1 ms
    assert len(nods) == 2  # duplicate nod merged


def test_replaces_atomically(demo, tmp_path, monkeypatch):
    events, tracks, duration = demo
    path = tmp_path / "v.eaf"
    path.write_text("old")
    elan.write_eaf(path, "v.mp4", events, tracks, duration, fps=FPS)
    assert Elan.Eaf(str(path)).get_tier_names()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.eaf"]  # no temp, no .bak
    mode = path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask

    before = path.read_bytes()

    def crash(*_a, **_k):
        raise OSError("disk gone")

    monkeypatch.setattr(elan.os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        elan.write_eaf(path, "w.mp4", events.iloc[:1], tracks, duration, fps=FPS)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.eaf"]


def test_media_urls(tmp_path):
    d = tmp_path / "eaf"
    abs_video = tmp_path / "videos" / "a b.mp4"
    assert elan.media_urls("clip.mp4", d) == ((d / "clip.mp4").as_uri(), "./clip.mp4")
    assert elan.media_urls(str(abs_video), d) == (abs_video.as_uri(), "../videos/a%20b.mp4")
    assert elan.media_urls(abs_video.as_uri(), d) == (abs_video.as_uri(), "../videos/a%20b.mp4")
    assert elan.media_urls("https://x.org/v.mp4", d) == ("https://x.org/v.mp4", None)


def test_bad_inputs(demo, tmp_path):
    events, tracks, duration = demo
    with pytest.raises(ValueError, match="fps"):
        elan.write_eaf(tmp_path / "x.eaf", "v.mp4", events, tracks, duration)
    with pytest.raises(ValueError, match="not in tracks"):
        elan.write_eaf(tmp_path / "x.eaf", "v.mp4", events, tracks.iloc[:1], duration, fps=FPS)
    bad = events.copy()
    bad.loc[bad.index[0], "end_s"] = float("nan")
    with pytest.raises(ValueError, match="not finite"):
        elan.write_eaf(tmp_path / "x.eaf", "v.mp4", bad, tracks, duration, fps=FPS)
    assert not list(tmp_path.iterdir())
