"""The seed's crop conventions: box -> square 224 crop -> back to image coordinates, and the
crop camera <-> full-image translation, agree with each other to float precision."""

from __future__ import annotations

import numpy as np
import pytest

from pmrr_model.crop import (
    box_to_center_scale,
    crop_affine,
    crop_cam_to_full_translation,
    crop_image,
    crop_side_px,
    crop_to_image,
    default_focal_px,
    full_translation_to_crop_cam,
    image_to_crop,
    normalize_crops,
    normalized_crop_to_image,
)


def test_box_to_center_scale_follows_the_seed():
    center, scale = box_to_center_scale(np.array([[10, 20, 110, 220], [0, 0, 300, 100]]))
    np.testing.assert_allclose(center, [[60, 120], [150, 50]])
    # scale = max(w, h) / 200 * 1.2
    np.testing.assert_allclose(scale, [1.2, 1.8])
    np.testing.assert_allclose(crop_side_px(scale), [240, 360])


def test_box_corners_land_inside_the_crop_with_the_margin():
    box = np.array([100.0, 50.0, 300.0, 250.0])  # square, side 200
    center, scale = box_to_center_scale(box)
    corners = image_to_crop(box.reshape(2, 2), center[0], scale[0])
    # The 1.2 margin leaves 224 * (1 - 1/1.2) / 2 pixels either side.
    margin = 224 * (1 - 1 / 1.2) / 2
    np.testing.assert_allclose(corners, [[margin, margin], [224 - margin, 224 - margin]])


@pytest.mark.parametrize("box", [[10, 20, 110, 220], [-40, 5, 500, 90], [3.5, 7.25, 9.0, 60.5]])
def test_points_round_trip_image_crop_image(box):
    center, scale = box_to_center_scale(np.array(box, float))
    points = np.random.default_rng(0).uniform(-50, 600, (7, 3, 2))
    crop = image_to_crop(points, center[0], scale[0])
    back = crop_to_image(crop, center[0], scale[0])
    np.testing.assert_allclose(back, points, atol=1e-9)
    # The network's [-1, 1] coordinates are crop pixels / 224 * 2 - 1.
    np.testing.assert_allclose(
        normalized_crop_to_image(crop / 224 * 2 - 1, center[0], scale[0]), points, atol=1e-9
    )


def test_cropped_pixels_sit_where_image_to_crop_says():
    """A bright dot in the image appears in the 224 crop at image_to_crop(dot)."""
    image = np.zeros((300, 400, 3), np.uint8)
    dot = np.array([250.0, 120.0])
    image[118:123, 248:253] = 255  # 5 x 5 around the dot
    center, scale = box_to_center_scale(np.array([200.0, 40.0, 330.0, 240.0]))
    crop = crop_image(image, center[0], scale[0])
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    ys, xs = np.nonzero(crop[..., 0] > 64)
    found = np.array([xs.mean(), ys.mean()])
    np.testing.assert_allclose(found, image_to_crop(dot, center[0], scale[0]), atol=1.0)


def test_outside_the_frame_is_zero_padded():
    image = np.full((100, 100, 3), 200, np.uint8)
    # A box at the top-left corner: the crop's top-left quarter lies outside the image.
    center, scale = box_to_center_scale(np.array([-50.0, -50.0, 50.0, 50.0]), rescale=1.0)
    crop = crop_image(image, center[0], scale[0])
    assert crop[:100, :100].max() == 0
    assert crop[130:, 130:].min() == 200


def test_affine_scales_uniformly():
    m = crop_affine(np.array([50.0, 60.0]), 1.0)
    assert m[0, 0] == m[1, 1] == pytest.approx(224 / 200)
    assert m[0, 1] == m[1, 0] == 0


def test_normalize_crops_uses_imagenet_statistics():
    crops = np.zeros((2, 224, 224, 3), np.uint8)
    crops[1] = 255
    x = normalize_crops(crops)
    assert x.shape == (2, 3, 224, 224) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 0, 0], [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225])
    np.testing.assert_allclose(x[1, :, 0, 0], [0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225])


def test_crop_camera_and_full_translation_are_one_projection():
    """A body point projected by the crop's weak-perspective camera and by the full-image pinhole
    (with the converted translation) lands on the same pixel (exact on the root's depth plane)."""
    size = (480, 640)
    focal = default_focal_px(size)
    assert focal == pytest.approx(800.0)
    boxes = np.array([[100.0, 50.0, 260.0, 400.0], [400.0, 200.0, 470.0, 300.0]])
    center, scale = box_to_center_scale(boxes)
    cam = np.array([[0.9, 0.05, 0.2], [1.3, -0.1, 0.0]])
    transl = crop_cam_to_full_translation(cam, center, scale, size, focal)
    assert (transl[:, 2] > 0).all()
    points = np.array([[0.1, -0.4, 0.0], [-0.2, 0.3, 0.0]])  # body frame, z = 0
    for i in range(2):
        side = crop_side_px(scale[i])
        weak = center[i] + cam[i, 0] * (points[:, :2] + cam[i, 1:]) * side / 2
        cam_pts = points + transl[i]
        pinhole = focal * cam_pts[:, :2] / cam_pts[:, 2:] + np.array([320.0, 240.0])
        np.testing.assert_allclose(pinhole, weak, atol=1e-9)
    np.testing.assert_allclose(
        full_translation_to_crop_cam(transl, center, scale, size, focal), cam, atol=1e-12
    )
