"""pyrender offscreen backend (the default on CPU machines).

PyOpenGL picks its platform when first imported, so ``PYOPENGL_PLATFORM`` is set before
pyrender loads: ``egl`` when an NVIDIA device is visible, ``osmesa`` (Debian ``libosmesa6``,
PyOpenGL >= 3.1.4) otherwise. A user's own setting wins.
"""

from __future__ import annotations

import os
import threading

import numpy as np

_LOCK = threading.Lock()  # one GL context per process; pyrender is not thread-safe
_RENDERERS: dict[tuple[int, int], object] = {}

# OpenGL's camera looks down -z with y up; ours looks down +z with y down.
GL_FROM_CAMERA = np.diag([1.0, -1.0, -1.0]).astype(np.float32)


def _import_pyrender():
    if "PYOPENGL_PLATFORM" not in os.environ:
        has_gpu = os.path.exists("/dev/nvidia0") or bool(os.environ.get("CUDA_VISIBLE_DEVICES"))
        os.environ["PYOPENGL_PLATFORM"] = "egl" if has_gpu else "osmesa"
    try:
        import pyrender
    except Exception as error:  # ImportError, or OpenGL failing to find its platform library
        from pmrr_model.render.api import PYRENDER_INSTALL, RendererUnavailableError

        raise RendererUnavailableError(
            f"pyrender cannot start with PYOPENGL_PLATFORM={os.environ['PYOPENGL_PLATFORM']} "
            f"({type(error).__name__}: {error}); install: {PYRENDER_INSTALL}"
        ) from error
    return pyrender


def _stable_context_objects() -> None:
    """One Python object per GL context for PyOpenGL's per-context storage.

    PyOpenGL keeps what GL may still point at (``glVertexAttribPointer``'s arguments and the like)
    in ``OpenGL.contextdata``, keyed by the object ``platform.GetCurrentContext()`` returns. With
    OSMesa that is a new pointer object on every call, so each frame's values were stored under a
    new key and never replaced or freed: 12 entries a frame for two people, and the render slowed
    from 27 to 41 ms a frame over 3,000 frames (a 10-minute video's render ran at half the speed
    of a 1-minute one). Here the same address always gives back the first object seen for it, so
    each frame replaces the previous frame's values. (The same cause made pyrender recompile its
    shaders every frame: :func:`_program_cache`.)"""
    import ctypes

    from OpenGL import platform

    current = platform.GetCurrentContext
    if getattr(current, "stable_objects", False):  # a second renderer size: already in place
        return
    seen: dict[int, object] = {}

    def stable_current_context():
        context = current()
        if not context:
            return context
        try:
            address = ctypes.cast(context, ctypes.c_void_p).value
        except (TypeError, ctypes.ArgumentError):  # not a ctypes pointer: as it is
            return context
        return seen.setdefault(address, context)

    stable_current_context.stable_objects = True
    platform.GetCurrentContext = stable_current_context


def _program_cache():
    """A shader-program cache keyed by shaders and defines only.

    pyrender 0.1.45 (pinned) keys its cache by ``OpenGL.contextdata.getContext()`` too, and
    with OSMesa that returns a new pointer object on every call, so every primitive of every
    frame compiled its shader program again and kept it until the context was destroyed:
    ~8 ms and ~7 MB a frame for two people (measured). One renderer has one context, so the
    context adds nothing to the key here."""
    from pyrender.shader_program import ShaderProgramCache

    class StableProgramCache(ShaderProgramCache):
        def __init__(self) -> None:
            super().__init__()
            self._by_source: dict[tuple, object] = {}

        def get_program(self, vertex_shader, fragment_shader, geometry_shader=None, defines=None):
            key = (
                vertex_shader,
                fragment_shader,
                geometry_shader,
                *sorted((defines or {}).items()),
            )
            if key not in self._by_source:
                self._by_source[key] = super().get_program(
                    vertex_shader, fragment_shader, geometry_shader, defines
                )
            return self._by_source[key]

        def clear(self) -> None:
            super().clear()
            self._by_source = {}

    return StableProgramCache()


def _renderer(pyrender, height: int, width: int):
    """The process's offscreen renderer for this viewport size, made once."""
    key = (height, width)
    if key not in _RENDERERS:
        _stable_context_objects()  # before the renderer's GL context stores anything
        renderer = pyrender.OffscreenRenderer(viewport_width=width, viewport_height=height)
        renderer._renderer._program_cache = _program_cache()
        _RENDERERS[key] = renderer
    return _RENDERERS[key]


def render(
    people: np.ndarray,
    faces: np.ndarray,
    focal_px: float,
    size_hw: tuple[int, int],
    colors: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """-> (rgb (H, W, 3) uint8, coverage mask (H, W) bool)."""
    pyrender = _import_pyrender()
    faces = np.ascontiguousarray(faces, dtype=np.uint32)
    meshes = []
    for verts, color in zip(people, colors, strict=True):
        material = pyrender.MetallicRoughnessMaterial(
            metallicFactor=0.1, roughnessFactor=0.7, alphaMode="OPAQUE",
            baseColorFactor=(*[float(c) for c in color], 1.0),
        )  # fmt: skip
        positions = np.ascontiguousarray(verts @ GL_FROM_CAMERA.T, dtype=np.float32)
        primitive = pyrender.Primitive(
            positions=positions,
            normals=vertex_normals(positions, faces),
            indices=faces,
            material=material,
        )
        meshes.append(pyrender.Mesh([primitive]))
    color, depth = render_meshes(meshes, focal_px, size_hw, flags=pyrender.RenderFlags.RGBA)
    return np.ascontiguousarray(color[..., :3]), depth > 0


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit vertex normals: adjacent faces' unit normals weighted by the face's angle at
    the vertex, as trimesh computes them for ``pyrender.Mesh.from_trimesh(smooth=True)``.

    Without trimesh's per-mesh caches and hashing: that path cost ~12 ms of the ~60 ms a
    rendered frame took on CPU; this one ~3 ms."""
    v = np.asarray(vertices, np.float32)
    corner = [v[faces[:, i]] for i in range(3)]
    edges = [corner[(i + 1) % 3] - corner[i] for i in range(3)]  # corner i -> i+1
    lengths = [np.sqrt(np.einsum("ij,ij->i", e, e)).clip(1e-12) for e in edges]
    normals = _cross(edges[0], -edges[2])
    normals /= np.sqrt(np.einsum("ij,ij->i", normals, normals)).clip(1e-12)[:, None]
    index = faces.reshape(-1).astype(np.intp)  # corner-major: faces[f, i] -> f * 3 + i
    angles = np.empty((len(faces), 3), np.float32)
    for i in range(3):  # the angle at corner i, between its outgoing and incoming edge
        cos = -np.einsum("ij,ij->i", edges[i], edges[i - 1]) / (lengths[i] * lengths[i - 1])
        angles[:, i] = np.arccos(np.clip(cos, -1.0, 1.0))
    summed = np.stack(
        [
            np.bincount(index, (angles * normals[:, axis : axis + 1]).reshape(-1), len(v))
            for axis in range(3)
        ],
        axis=1,
    )
    norms = np.sqrt(np.einsum("ij,ij->i", summed, summed)).clip(1e-12)
    return (summed / norms[:, None]).astype(np.float32)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (N, 3) arrays (numpy's ``cross`` is several times slower)."""
    return np.stack(
        [
            a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
            a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0],
        ],
        axis=1,
    )


def camera_mesh(vertices: np.ndarray, faces: np.ndarray, **trimesh_options):
    """A pyrender mesh from camera-frame vertices (x right, y down, z forward)."""
    pyrender = _import_pyrender()
    import trimesh

    mesh = trimesh.Trimesh(vertices @ GL_FROM_CAMERA.T, faces, process=False, **trimesh_options)
    return pyrender.Mesh.from_trimesh(mesh, smooth=True)


def render_meshes(
    meshes: list, focal_px: float, size_hw: tuple[int, int], ambient: float = 0.35,
    key_light: float = 3.0, flags: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Meshes (vertices already in OpenGL's frame) seen by the pinhole camera at the origin
    (``focal_px``, centred principal point), lit by a key light from the camera and a fill from
    above (enough shading to read the body's shape) -> (colour, depth) as pyrender returns them.
    The one place that sets up camera, lights and the shared GL context."""
    pyrender = _import_pyrender()
    height, width = size_hw
    scene = pyrender.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[ambient] * 3)
    for mesh in meshes:
        scene.add(mesh)
    camera = pyrender.IntrinsicsCamera(
        fx=focal_px, fy=focal_px, cx=width / 2.0, cy=height / 2.0, znear=0.05, zfar=1000.0
    )
    scene.add(camera, pose=np.eye(4))
    scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=key_light), pose=np.eye(4))
    above = np.eye(4)
    above[:3, :3] = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64)
    scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=1.5), pose=above)
    with _LOCK:
        renderer = _renderer(pyrender, height, width)
        return renderer.render(scene) if flags is None else renderer.render(scene, flags=flags)
