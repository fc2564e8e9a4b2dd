"""Mesh rendering for demos and videos: overlay on the frame, plus front and side views."""

from pmrr_model.render.api import (
    RendererUnavailableError,
    person_colors,
    render_overlay,
    render_views,
    renderer_name,
)

__all__ = [
    "RendererUnavailableError",
    "person_colors",
    "render_overlay",
    "render_views",
    "renderer_name",
]
