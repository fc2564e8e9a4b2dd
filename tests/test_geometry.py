import math

import pytest
import torch

from pmrr_model.geometry import (
    axis_angle_to_rotmat,
    perspective_projection,
    project_to_crop,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_rot6d,
    weak_perspective_to_translation,
)


def random_rotations(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q = torch.nn.functional.normalize(
        torch.randn(n, 4, generator=generator, dtype=torch.float64), dim=-1
    )
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(n, 3, 3)  # fmt: skip


def test_6d_round_trip_is_exact_for_rotations():
    rot = random_rotations(500)
    assert torch.allclose(rot6d_to_rotmat(rotmat_to_rot6d(rot)), rot, atol=1e-12)


def test_6d_gives_a_rotation_for_any_input():
    rot = rot6d_to_rotmat(torch.randn(100, 6, dtype=torch.float64))
    eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    assert torch.allclose(rot @ rot.transpose(1, 2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(100, dtype=torch.float64))


def test_6d_layout_is_the_first_two_columns():
    rot = random_rotations(1)[0]
    six = rotmat_to_rot6d(rot)
    assert torch.equal(
        six, torch.stack([rot[0, 0], rot[0, 1], rot[1, 0], rot[1, 1], rot[2, 0], rot[2, 1]])
    )


def test_axis_angle_round_trip_including_near_pi_and_zero():
    rot = random_rotations(500)
    assert torch.allclose(axis_angle_to_rotmat(rotmat_to_axis_angle(rot)), rot, atol=1e-9)
    special = torch.tensor(
        [[0.0, 0.0, 0.0], [math.pi - 1e-7, 0, 0], [0, 0, 1e-9], [0.0, math.pi, 0.0]],
        dtype=torch.float64,
    )
    back = rotmat_to_axis_angle(axis_angle_to_rotmat(special))
    assert torch.allclose(axis_angle_to_rotmat(back), axis_angle_to_rotmat(special), atol=1e-9)


def test_known_rotation_about_z():
    rot = axis_angle_to_rotmat(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    assert torch.allclose(
        rot @ torch.tensor([1.0, 0, 0], dtype=torch.float64),
        torch.tensor([0.0, 1, 0], dtype=torch.float64),
        atol=1e-12,
    )


def test_weak_perspective_depth_and_projection_consistency():
    cam = torch.tensor([[0.9, 0.1, -0.2]])
    translation = weak_perspective_to_translation(cam)
    assert translation[0, 2].item() == pytest.approx(2 * 5000 / (224 * 0.9))
    # A point at the body origin projects to the crop offset scaled by s.
    projected = project_to_crop(torch.zeros(1, 1, 3), cam)
    assert torch.allclose(projected[0, 0], torch.tensor([0.1 * 0.9, -0.2 * 0.9]), atol=1e-6)


def test_perspective_projection_of_a_known_point():
    pixels = perspective_projection(
        torch.tensor([[[0.5, -0.25, 0.0]]]),
        torch.tensor([[0.0, 0.0, 5.0]]),
        1000.0,
        torch.tensor([[320.0, 240.0]]),
    )
    assert torch.allclose(pixels, torch.tensor([[[420.0, 190.0]]]))
