"""Rotation conversions (one module, one convention: quaternions scalar-last (x, y, z, w) as in
scipy; torch and numpy inputs give the same numbers) and the crop camera."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from pmrr_model import geometry
from pmrr_model.geometry import (
    axis_angle_to_quaternion,
    axis_angle_to_rotmat,
    perspective_projection,
    project_to_crop,
    quaternion_sign_continuous,
    quaternion_slerp,
    quaternion_to_axis_angle,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_quaternion,
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


def awkward_axis_angles(n: int = 400, seed: int = 1) -> np.ndarray:
    """Random rotation vectors plus the cases conversions get wrong: zero, tiny, near and at pi,
    and beyond pi (a non-minimal rotation vector)."""
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate(
        [rng.uniform(0, math.pi, n - 8), [0.0, 1e-12, 1e-7, 1e-3, math.pi - 1e-9, math.pi,
                                          math.pi + 0.3, 2 * math.pi - 0.1]]
    )  # fmt: skip
    return axes * angles[:, None]


def test_quaternions_are_scalar_last_like_scipy():
    """The project's convention is scipy's: (x, y, z, w), canonical w >= 0."""
    aa = awkward_axis_angles()
    expected = Rotation.from_rotvec(aa).as_quat()
    expected = np.where(expected[:, 3:] < 0, -expected, expected)
    quarter_turn_z = rotmat_to_quaternion(
        axis_angle_to_rotmat(torch.tensor([0.0, 0.0, math.pi / 2]))
    )
    assert torch.allclose(
        quarter_turn_z, torch.tensor([0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4)])
    )
    for quaternion in (
        rotmat_to_quaternion(axis_angle_to_rotmat(torch.from_numpy(aa))).numpy(),
        axis_angle_to_quaternion(torch.from_numpy(aa)).numpy(),
        axis_angle_to_quaternion(aa),
        rotmat_to_quaternion(Rotation.from_rotvec(aa).as_matrix()),
    ):
        assert (quaternion[:, 3] >= 0).all()
        # at exactly pi, w = 0 and q / -q are both canonical: compare up to sign
        same = np.minimum(
            np.abs(quaternion - expected).max(1), np.abs(quaternion + expected).max(1)
        )
        assert same.max() < 1e-9


def test_torch_and_numpy_paths_agree():
    """Every conversion gives the same rotation for a tensor (own code) and an array (scipy)."""
    aa = awkward_axis_angles()
    aa_t = torch.from_numpy(aa)
    rot_np, rot_t = axis_angle_to_rotmat(aa), axis_angle_to_rotmat(aa_t)
    assert isinstance(rot_np, np.ndarray) and isinstance(rot_t, torch.Tensor)
    np.testing.assert_allclose(rot_t.numpy(), rot_np, atol=1e-12)
    np.testing.assert_allclose(rot_np, Rotation.from_rotvec(aa).as_matrix(), atol=1e-12)
    back_np, back_t = rotmat_to_axis_angle(rot_np), rotmat_to_axis_angle(rot_t).numpy()
    np.testing.assert_allclose(axis_angle_to_rotmat(back_t), rot_np, atol=1e-9)
    np.testing.assert_allclose(axis_angle_to_rotmat(back_np), rot_np, atol=1e-9)
    assert np.linalg.norm(back_t, axis=1).max() <= math.pi + 1e-9  # minimal rotation vectors
    q = axis_angle_to_quaternion(aa)
    for sign in (1.0, -1.0):  # either representative of each rotation
        from_t = quaternion_to_axis_angle(torch.from_numpy(sign * q)).numpy()
        from_np = quaternion_to_axis_angle(sign * q)
        np.testing.assert_allclose(axis_angle_to_rotmat(from_t), rot_np, atol=1e-9)
        np.testing.assert_allclose(axis_angle_to_rotmat(from_np), rot_np, atol=1e-9)
        assert np.linalg.norm(from_t, axis=1).max() <= math.pi + 1e-9
    # leading shapes are kept on both paths
    batch = aa[:24].reshape(2, 4, 3, 3)
    assert axis_angle_to_quaternion(batch).shape == (2, 4, 3, 4)
    assert rotmat_to_axis_angle(axis_angle_to_rotmat(batch)).shape == (2, 4, 3, 3)
    assert axis_angle_to_rotmat(np.zeros(3)).shape == (3, 3)


def test_torch_conversions_have_gradients_at_zero():
    aa = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    (axis_angle_to_rotmat(aa).sum() + axis_angle_to_quaternion(aa).sum()).backward()
    assert torch.isfinite(aa.grad).all()


def test_sign_continuity_and_slerp():
    q = axis_angle_to_quaternion(np.linspace(0, 1, 10)[:, None] * np.array([0.0, 0.0, 1.0]))
    flipped = q.copy()
    flipped[3:7] *= -1
    np.testing.assert_allclose(quaternion_sign_continuous(flipped), q)
    a, b = q[0], q[-1]
    mid = quaternion_slerp(a, -b, np.array([0.5]))  # -b: the shorter arc is still taken
    np.testing.assert_allclose(quaternion_to_axis_angle(mid), [0.0, 0.0, 0.5], atol=1e-12)
    np.testing.assert_allclose(quaternion_slerp(a, a, np.array([0.3])), a)


def test_one_rotation_module():
    """The smoother and the fits convert rotations through pmrr_model.geometry only."""
    import pmrr_model.estimators.fitting as fitting
    from tasks import smoothing

    for name in ("axis_angle_to_quaternion", "quaternion_to_axis_angle",
                 "quaternion_sign_continuous", "quaternion_slerp"):  # fmt: skip
        assert getattr(smoothing, name) is getattr(geometry, name)
    assert not hasattr(smoothing, "Rotation") and not hasattr(smoothing, "slerp")
    assert fitting.rotmat_to_axis_angle is geometry.rotmat_to_axis_angle
    assert "(x, y, z, w)" in geometry.__doc__
