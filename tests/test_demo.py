"""The seed's image demo (``pmrr demo --img_file`` / ``run_demo.py``): real photos in, overlay,
front and side views and parameters out, one body per person; clear errors for bad inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pmrr_interviews.demo import DemoError, NoPersonFoundError, read_image_rgb, run_image_demo
from pmrr_model.checkpoint import CheckpointError
from tests.images import interview_frames, one_person_photo, save_png


@pytest.fixture(scope="module")
def parts():
    """One estimator and detector for the whole module (building MediaPipe graphs is slow)."""
    from pmrr_model.detection import create_detector
    from pmrr_model.estimators.factory import create_estimator

    return create_estimator("landmark-fit"), create_detector("mediapipe")


def read(path: str) -> np.ndarray:
    return cv2.imread(path)[..., ::-1]


def test_one_person_photo(parts, tmp_path, capsys):
    estimator, detector = parts
    name, image = one_person_photo()
    img_file = save_png(image, tmp_path / f"{name}.png")
    summary = run_image_demo(img_file, tmp_path / "out", estimator=estimator, detector=detector)
    assert summary["people"] == 1 and summary["estimator"] == "landmark-fit"
    assert summary["assets"].startswith(("standin:", "smpl:"))
    assert summary["renderer"] in ("pyrender", "pytorch3d")
    assert "landmark-fit" in capsys.readouterr().out
    files = summary["files"]
    assert set(files) == {"overlay", "front", "side", "params"}
    overlay, front = read(files["overlay"]), read(files["front"])
    assert overlay.shape == front.shape == image.shape
    params = np.load(files["params"])
    box = params["boxes_xyxy"][0].round().astype(int)
    # The mesh is drawn over the person: pixels change inside their box, and nowhere beside or
    # above it (below it the body goes on out of the box: legs in a portrait).
    changed = (np.abs(overlay.astype(int) - image.astype(int)) > 8).any(-1)
    inside = np.zeros_like(changed)
    inside[max(box[1], 0) : box[3], max(box[0], 0) : box[2]] = True
    assert changed[inside].mean() > 0.2
    pad = int(0.1 * (box[3] - box[1]))
    away = np.ones_like(changed)
    away[max(box[1] - pad, 0) :, max(box[0] - pad, 0) : box[2] + pad] = False
    assert away.sum() > 1000 and changed[away].mean() < 0.01
    assert (front != 255).any(-1)[inside].mean() > 0.2
    assert params["betas"].shape == (1, 10) and params["joints2d_px"].shape == (1, 49, 2)
    assert str(params["estimator"]) == "landmark-fit"


def test_two_people_get_two_meshes(parts, tmp_path):
    estimator, detector = parts
    img_file = save_png(interview_frames([30])[0], tmp_path / "two.png")
    summary = run_image_demo(img_file, tmp_path / "out", estimator=estimator, detector=detector)
    assert summary["people"] == 2
    params = np.load(summary["files"]["params"])
    assert params["boxes_xyxy"].shape == (2, 4) and params["transl_m"].shape == (2, 3)
    centres = np.sort(params["joints2d_px"][:, :25, 0].mean(1))
    assert centres[0] < 176 < 240 < centres[1]
    front = read(summary["files"]["front"])
    drawn = (front != 255).any(-1)
    assert drawn[:, :176].mean() > 0.1 and drawn[:, 240:].mean() > 0.1


def test_bad_images_fail_naming_the_file(parts, tmp_path):
    estimator, detector = parts
    missing = tmp_path / "missing.png"
    with pytest.raises(DemoError, match=f"{missing}: image file not found"):
        read_image_rgb(missing)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(DemoError, match=r"notes\.png: not a readable image"):
        run_image_demo(text, tmp_path / "out", estimator=estimator, detector=detector)
    empty = save_png(np.full((240, 320, 3), 90, np.uint8), tmp_path / "empty_room.png")
    with pytest.raises(NoPersonFoundError, match=r"empty_room\.png: no person found"):
        run_image_demo(empty, tmp_path / "out", estimator=estimator, detector=detector)
    assert not (tmp_path / "out" / "empty_room_overlay.png").exists()


def test_run_demo_script_flags(tmp_path):
    """The seed's ``run_demo.py`` flags reach the demo; a wrong checkpoint names the file."""
    import run_demo

    img_file = save_png(np.full((64, 64, 3), 90, np.uint8), tmp_path / "x.png")
    with pytest.raises(CheckpointError, match=r"nope\.pt: checkpoint file not found"):
        run_demo.main(["--img_file", str(img_file), "--checkpoint", str(tmp_path / "nope.pt")])
    with pytest.raises(DemoError, match=r"absent\.png: image file not found"):
        run_demo.main(["--img_file", str(tmp_path / "absent.png")])
    with pytest.raises(SystemExit):
        run_demo.main([])


def test_run_demo_with_a_pmrr_checkpoint(tmp_path):
    """``run_demo.py --img_file X --checkpoint C`` runs the PMRR network (our own random weights
    in the released layout) and records which checkpoint produced the output."""
    import torch

    import run_demo
    from pmrr_model.assets import resolve_assets
    from pmrr_model.checkpoint import save_checkpoint
    from pmrr_model.network import build_pmrr

    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_pmrr(resolve_assets()), tmp_path / "demo_weights.pt")
    name, image = one_person_photo()
    img_file = save_png(image, tmp_path / f"{name}.png")
    out = tmp_path / "out"
    argv = ["--img_file", str(img_file), "--checkpoint", str(checkpoint)]
    assert run_demo.main([*argv, "--output_folder", str(out)]) == 0
    params = np.load(out / f"{name}_smpl.npz")
    assert str(params["estimator"]) == "pmrr:demo_weights"
    assert params["betas"].shape == (1, 10) and np.isfinite(params["joints3d_m"]).all()
    assert (out / f"{name}_overlay.png").is_file() and (out / f"{name}_side.png").is_file()
