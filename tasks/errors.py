"""Errors of the stage tasks; every message names the video, so a batch log says which one."""

from __future__ import annotations


class VideoError(RuntimeError):
    """A video cannot be used (missing, empty, corrupt, or no decodable stream)."""
