"""docs/TABLES.md is generated from the schemas and every column is documented."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pytest

from analytics.tables import SCHEMAS as ANALYTICS_SCHEMAS
from analytics.tables import to_arrow
from pmrr_model.constants import JOINT_NAMES
from storage.schemas import SCHEMA_VERSION, SCHEMA_VERSION_KEY, SCHEMAS, description

ROOT = Path(__file__).resolve().parent.parent
ALL = {**SCHEMAS, **ANALYTICS_SCHEMAS}


def _script():
    spec = importlib.util.spec_from_file_location("tables_doc", ROOT / "scripts" / "tables_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doc_is_what_the_script_generates():
    text = (ROOT / "docs" / "TABLES.md").read_text(encoding="utf-8")
    assert text == _script().render(), "docs/TABLES.md is stale: run python3 scripts/tables_doc.py"


def test_check_mode(tmp_path):
    script = _script()
    out = tmp_path / "TABLES.md"
    assert script.main(["--check", "--out", str(out)]) == 1
    assert script.main(["--out", str(out)]) == 0
    assert script.main(["--check", "--out", str(out)]) == 0


def test_doc_covers_every_table_column_and_joint():
    text = _script().render()
    for name, schema in ALL.items():
        assert f"\n## {name}\n" in text
        for f in schema:
            assert f"| `{f.name}` |" in text, (name, f.name)
    for joint in JOINT_NAMES:
        assert f"| {joint} |" in text
    assert f"**{SCHEMA_VERSION}**" in text


@pytest.mark.parametrize("name", list(ALL))
def test_every_field_has_a_description(name):
    for f in ALL[name]:
        assert description(f).strip(), (name, f.name)


def test_one_schema_version_for_all_tables():
    versions = {name: (s.metadata or {}).get(SCHEMA_VERSION_KEY) for name, s in ALL.items()}
    assert set(versions.values()) == {SCHEMA_VERSION.encode()}, versions
    assert all(set(s.metadata) == {SCHEMA_VERSION_KEY} for s in ALL.values())
    assert SCHEMA_VERSION_KEY == b"pmrr.schema_version"


def test_track_ids_are_int32_everywhere():
    ids = [
        (name, f.name)
        for name, s in ALL.items()
        for f in s
        if f.name in ("track_id", "partner_track_id")
    ]
    assert len(ids) == 7  # tracks, smpl, 4 analytics tables, partner_track_id
    for name, col in ids:
        assert ALL[name].field(col).type == pa.int32(), (name, col)


def test_analytics_arrow_tables_conform_to_the_schema():
    import pandas as pd

    df = pd.DataFrame({"video_id": ["v"], "track_id": [3], "partner_track_id": [4]})
    table = to_arrow(df, "features_summary")
    schema = ANALYTICS_SCHEMAS["features_summary"]
    assert table.schema.field("track_id").type == pa.int32()
    assert table.schema.field("partner_track_id").type == pa.int32()
    assert table.schema.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()
    for f in schema:
        assert table.schema.field(f.name).metadata == f.metadata
    with pytest.raises((TypeError, ValueError, OverflowError)):
        to_arrow(pd.DataFrame({"video_id": ["v"], "track_id": [2**40]}), "events")
