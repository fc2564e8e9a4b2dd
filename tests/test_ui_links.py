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
