"""The torch device a run asks for, checked before any model is loaded onto it.

``torch.device("cuda")`` is accepted on a machine without CUDA; the failure comes later, from
deep inside the first copy of weights ("Torch not compiled with CUDA enabled"), after the
assets were loaded and, in a batch, once per video. :func:`checked_device` says it first, in
one line naming the device, where the model is built: on a cluster that is the worker, which
has the GPU, not the machine that submitted the run.
"""

from __future__ import annotations

import torch


class DeviceError(RuntimeError):
    """The device named is not usable by torch on this machine; the message says why."""


def checked_device(name: str | torch.device) -> torch.device:
    """``name`` as a :class:`torch.device`, or :class:`DeviceError` when this machine's torch
    cannot use it (no CUDA or MPS, or a CUDA index past the devices it sees)."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as error:
        raise DeviceError(f"device {str(name)!r}: not a torch device ({error})") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                "this torch is built without CUDA"
                if torch.version.cuda is None
                else ("no CUDA device is visible (driver, CUDA_VISIBLE_DEVICES)")
            )
            raise DeviceError(f"device {str(name)!r}: {why}; use --device cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(f"device {str(name)!r}: torch sees {count} CUDA device(s) here")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {str(name)!r}: MPS is not available here; use --device cpu")
    return device
