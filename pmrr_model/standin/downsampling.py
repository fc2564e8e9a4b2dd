"""Mesh pyramid in the layout of the seed's ``mesh_downsampling.npz`` (V -> ~V/4 -> 431).

The seed only needs ``Dmap = D[1] @ D[0]`` to pick 431 well-spread points on the mesh (where
mesh-aligned features are sampled), plus ``U``/``A`` for graph layers. Each level keeps a
farthest-point subset of the previous one: ``D`` rows select a kept vertex (so rows sum to 1),
``U`` rows interpolate every vertex from nearby kept vertices, and ``A`` is the adjacency of each
level (for coarse levels, kept vertices whose mesh-geodesic Voronoi cells touch).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

N_COARSEST = 431  # fixed by the seed's network
UPSAMPLE_NEIGHBOURS = 3


def edge_graph(vertices: np.ndarray, faces: np.ndarray) -> sp.csr_matrix:
    """Symmetric (V, V) graph of mesh edges weighted by edge length."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    length = np.linalg.norm(vertices[edges[:, 0]] - vertices[edges[:, 1]], axis=1)
    n = len(vertices)
    graph = sp.coo_matrix((length, (edges[:, 0], edges[:, 1])), shape=(n, n))
    return (graph + graph.T).tocsr()


def farthest_points(points: np.ndarray, count: int, start: int) -> np.ndarray:
    """Greedy farthest-point sampling (deterministic from ``start``), in selection order."""
    chosen = np.empty(count, dtype=np.int64)
    chosen[0] = start
    distance = np.linalg.norm(points - points[start], axis=1)
    for i in range(1, count):
        chosen[i] = int(np.argmax(distance))
        distance = np.minimum(distance, np.linalg.norm(points - points[chosen[i]], axis=1))
    return chosen


def selection_matrix(kept: np.ndarray, n: int) -> sp.csc_matrix:
    """(len(kept), n) rows that copy the kept vertices."""
    ones = np.ones(len(kept))
    return sp.csc_matrix((ones, (np.arange(len(kept)), kept)), shape=(len(kept), n))


def upsampling_matrix(points: np.ndarray, kept: np.ndarray, labels: np.ndarray) -> sp.csc_matrix:
    """(n, len(kept)) inverse-distance interpolation from the nearest kept vertices.

    Only kept vertices in the same body part (``labels``, e.g. the dominant skinning joint) as
    the vertex are used when there are any, so a hand never borrows from the thigh it touches.
    """
    tree = cKDTree(points[kept])
    k = min(8, len(kept))
    distance, index = tree.query(points, k=k)
    rows, cols, vals = [], [], []
    for v in range(len(points)):
        same = labels[kept[index[v]]] == labels[v]
        pick = np.flatnonzero(same)[:UPSAMPLE_NEIGHBOURS]
        if len(pick) == 0:
            pick = np.arange(1)
        d = distance[v, pick]
        if d[0] < 1e-12:
            w = np.zeros(len(pick))
            w[0] = 1.0
        else:
            w = 1.0 / d
            w /= w.sum()
        rows.extend([v] * len(pick))
        cols.extend(index[v, pick].tolist())
        vals.extend(w.tolist())
    return sp.csc_matrix((vals, (rows, cols)), shape=(len(points), len(kept)))


def coarse_adjacency(graph: sp.csr_matrix, kept: np.ndarray) -> sp.csc_matrix:
    """(len(kept), len(kept)) 0/1 adjacency: kept vertices whose geodesic Voronoi cells touch."""
    _, _, owner_vertex = dijkstra(
        graph, directed=False, indices=kept, min_only=True, return_predecessors=True
    )
    position = np.full(graph.shape[0], -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    owner = position[owner_vertex]
    coo = graph.tocoo()
    a, b = owner[coo.row], owner[coo.col]
    cross = a != b
    n = len(kept)
    adjacency = sp.coo_matrix((np.ones(int(cross.sum())), (a[cross], b[cross])), shape=(n, n))
    adjacency = (adjacency + adjacency.T).tocsc()
    adjacency.data[:] = 1.0
    return adjacency


def fine_adjacency(faces: np.ndarray, n: int) -> sp.csc_matrix:
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adjacency = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    adjacency = (adjacency + adjacency.T).tocsc()
    adjacency.data[:] = 1.0
    return adjacency


def _object_array(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def build_pyramid(
    vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray
) -> dict[str, np.ndarray]:
    """``{"A", "U", "D"}`` object arrays of scipy sparse matrices, laid out like the seed's."""
    n0 = len(vertices)
    n1 = int(round(n0 / 4))
    start = int(np.argmax(vertices[:, 1]))  # top of the head: a fixed, shape-independent seed
    kept1 = np.sort(farthest_points(vertices, n1, start))
    points1 = vertices[kept1]
    kept2 = np.sort(farthest_points(points1, N_COARSEST, int(np.argmax(points1[:, 1]))))

    graph0 = edge_graph(vertices, faces)
    adjacency1 = coarse_adjacency(graph0, kept1)
    # Level-1 graph: Voronoi-neighbour links weighted by their straight length.
    a1 = adjacency1.tocoo()
    length1 = np.linalg.norm(points1[a1.row] - points1[a1.col], axis=1)
    graph1 = sp.coo_matrix((length1, (a1.row, a1.col)), shape=adjacency1.shape).tocsr()
    adjacency2 = coarse_adjacency(graph1, kept2)

    return {
        "A": _object_array([fine_adjacency(faces, n0), adjacency1, adjacency2]),
        "U": _object_array(
            [
                upsampling_matrix(vertices, kept1, labels),
                upsampling_matrix(points1, kept2, labels[kept1]),
            ]
        ),
        "D": _object_array([selection_matrix(kept1, n0), selection_matrix(kept2, n1)]),
    }
