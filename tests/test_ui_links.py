"""Links and images of the Prefect UI artifacts (``flows/ui.py``) against a real S3 server: the
render link is a presigned URL a browser can download, plots are embedded from the store."""

from __future__ import annotations

import base64
import re
import urllib.request
from pathlib import Path

from flows import ui
from storage import Store
from tests.s3_server import S3Server, s3  # noqa: F401

VIDEO = "0123456789abcdef"


def test_render_link_on_s3_downloads_the_committed_render(s3: S3Server) -> None:  # noqa: F811
    store = Store(s3.url("ui"))
    payload = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4
    store.fs.pipe_file(store.path("renders", f"{VIDEO}.mp4"), payload)
    link = ui.render_link(store, VIDEO)
    assert link.startswith(f"[{store.uri('renders', VIDEO + '.mp4')}](http")
    url = re.search(r"\]\((http[^)]+)\)", link).group(1)
    assert "Expires=" in url or "X-Amz-Expires" in url
    with urllib.request.urlopen(url, timeout=10) as response:  # what the browser does
        assert response.read() == payload


def test_plots_are_embedded_from_the_store(s3: S3Server) -> None:  # noqa: F811
    store = Store(s3.url("ui"))
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    store.fs.pipe_file(store.path("plots", VIDEO, f"{VIDEO}_events.png"), png)
    store.fs.pipe_file(store.path("plots", VIDEO, "notes.txt"), b"not a plot")
    markdown = ui.plots_markdown(store, VIDEO, "### plots")
    images = re.findall(r"!\[([^\]]+)\]\(data:image/png;base64,([^)]+)\)", markdown)
    assert images == [(f"{VIDEO}_events.png", base64.b64encode(png).decode())]
    assert ui.plots_markdown(store, "fedcba9876543210", "### plots") is None


def test_local_render_link_and_provenance(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert str((tmp_path / "renders" / f"{VIDEO}.mp4").resolve()) in ui.render_link(store, VIDEO)
    assert "**not SMPL**" in ui.provenance("landmark-fit", "standin:e0adff236637")
    line = ui.provenance("pmrr", "smpl:1234abcd")
    assert "not SMPL" not in line and "`smpl:1234abcd`" in line


def test_plots_past_prefects_event_limit_are_named_not_embedded(tmp_path: Path) -> None:
    """Prefect refuses to publish an artifact's event over PREFECT_EVENTS_MAXIMUM_SIZE_BYTES
    (the artifact then never reaches automations): what would pass it is named instead."""
    from prefect.settings import PREFECT_EVENTS_MAXIMUM_SIZE_BYTES, temporary_settings

    store = Store(tmp_path)
    (tmp_path / "plots" / VIDEO).mkdir(parents=True)  # a local store writes into folders it has
    pngs = {f"{VIDEO}_{n}.png": b"\x89PNG\r\n\x1a\n" + bytes([n]) * 142 for n in (1, 2, 3)}
    for name, png in pngs.items():  # 150 bytes: 200 characters of base64 each
        store.fs.pipe_file(store.path("plots", VIDEO, name), png)
    with temporary_settings({PREFECT_EVENTS_MAXIMUM_SIZE_BYTES: ui.EVENT_ENVELOPE_BYTES + 450}):
        assert ui.embed_budget() == 450
        markdown = ui.plots_markdown(store, VIDEO, "### plots")
    images = re.findall(r"!\[([^\]]+)\]\(data:image/png;base64,([^)]+)\)", markdown)
    first, second, third = pngs
    assert images == [(n, base64.b64encode(pngs[n]).decode()) for n in (first, second)]
    assert "not embedded (0.0 MB: over Prefect's event size limit" in markdown
    assert str((tmp_path / "plots" / VIDEO / third).resolve()) in markdown
    # the default limit embeds all three
    assert len(re.findall(r"data:image/png", ui.plots_markdown(store, VIDEO, "#"))) == 3
