"""The device check that runs before a model is put on a device (``pmrr_model.devices``)."""

from __future__ import annotations

import logging

import pytest
import torch

from pmrr_model.devices import DeviceError, checked_device


def test_cpu_is_a_device() -> None:
    assert checked_device("cpu") == torch.device("cpu")


def test_a_name_torch_does_not_know_is_refused_by_name() -> None:
    with pytest.raises(DeviceError, match="'gpu0': not a torch device"):
        checked_device("gpu0")


def test_a_cuda_index_past_the_devices_is_refused() -> None:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(DeviceError, match=f"'cuda:{count}'"):
        checked_device(f"cuda:{count}")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_says_why_before_any_weights_move() -> None:
    """The predictor refuses before building the network (torch would fail on the first copy
    of weights instead, deep in ``Module.to``)."""
    from pmrr_model.inference import PMRRPredictor

    with pytest.raises(DeviceError, match="'cuda'.*use --device cpu"):
        checked_device("cuda")
    with pytest.raises(DeviceError, match="'cuda'"):
        PMRRPredictor(device="cuda")


def test_the_landmark_fit_says_it_does_not_use_the_device(caplog) -> None:
    """``--device cuda`` with the default estimator: accepted (a deployment may name one device
    for every estimator) but said, since nothing of the landmark fit runs there."""
    from pmrr_model.estimators.factory import create_estimator

    with caplog.at_level(logging.WARNING, logger="pmrr_model.estimators.factory"):
        create_estimator("landmark-fit", device="cuda")
    assert "not used by the landmark-fit estimator" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pmrr_model.estimators.factory"):
        create_estimator("landmark-fit", device="cpu")
    assert "not used" not in caplog.text
