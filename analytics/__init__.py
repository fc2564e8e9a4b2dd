"""Body-language analytics: per-frame 3D joints of each person -> measures, events, windows.

Entry points: :func:`analytics.pipeline.compute_video_features` (tables) and
:func:`analytics.plots.plot_video_features` (PNG figures). Column definitions: ``MEASURES.md``.
"""

from analytics.pipeline import compute_video_features
from analytics.plots import plot_video_features
from analytics.tables import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "compute_video_features", "plot_video_features"]
