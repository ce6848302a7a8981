"""Association: costs built in one shot, gating, and optimal assignment.

All functions are pure numpy over whole arrays. Costs are distances (lower is
better); ``np.inf`` marks a pair that must never match.

Costs are row-paired vectors (``*_pairs``) over candidate pairs (the dense ``(N,M)``
forms they replaced are the tests' oracles, in ``tests/tracking/test_association.py``); the
appearance gallery distance is a dense ``(T,M)`` matrix. Every IoU-gated stage
only needs the pairs whose boxes overlap (:func:`overlapping_pairs`): a pair that
does not overlap has IoU distance 1 and can never pass a threshold below 1. With
many objects that is a few pairs per track instead of a full matrix, and
:func:`sparse_assignment` solves only the contested part of the problem.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
from threadpoolctl import ThreadpoolController

# scipy's solvers are imported where they are used: scipy.optimize alone takes about 0.3 s of CPU to
# import, which would otherwise delay `tracker track`'s start line (printed before the models load).

EPS = 1e-9  # guards divisions by zero areas
# Contested groups up to this many rows and columns are solved by trying all their
# permutations at once (4! = 24); on dense scenes they are 9 in 10 of the groups.
SMALL_GROUP = 4
# Contested candidates spanning up to this many row x column cells get one dense Hungarian
# (cheap at this size); above it (crowds) they are split into independent groups first.
DENSE_HUNGARIAN_MAX = 10_000
# Up to this many pairs of boxes, overlapping_pairs tests them all at once: fewer array operations than the sweep.
OVERLAP_GRID_MAX = 400  # ~20 x 20 boxes; the two cost the same near 25 x 25
_PERMUTATIONS = np.array(list(itertools.permutations(range(SMALL_GROUP))), np.int64)
# OpenBLAS computes a product of fewer multiply-adds than this on one thread whatever its shape (matrix-vector
# products from 2304 x its GEMM_MULTITHREAD_THRESHOLD of 4, matrix-matrix ones from 65536 x 4): a thread limit
# around a smaller one only costs its own setup (~25 us, a tenth of a frame of 10 objects).
BLAS_ONE_THREAD_MAX = 2304 * 4


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread():
    """A context in which BLAS computes on one thread. The matrices here are small: BLAS worker threads only
    spin against the detector's threads (measured 20 ms instead of 0.1 ms for a 100x128 matmul)."""
    return _blas_controller().limit(limits=1, user_api="blas")


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of 2-D arrays, in :func:`one_blas_thread` where it is large enough for BLAS to start threads."""
    if a.shape[0] * a.shape[1] * b.shape[1] < BLAS_ONE_THREAD_MAX:
        return a @ b
    with one_blas_thread():
        return a @ b


def _area(corners: np.ndarray) -> np.ndarray:
    """Areas (K,) of boxes given as their (4,K) coordinate rows x1, y1, x2, y2."""
    wh = np.maximum(corners[2:] - corners[:2], 0)
    return wh[0] * wh[1]


def iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (K,) of row-paired xyxy boxes ``a[k]`` and ``b[k]``."""
    # as (4,K) coordinate rows, x and y go through each step together: half the array operations of one
    # coordinate at a time, each value the same, and contiguous rows keep large K fast
    a = np.ascontiguousarray(np.asarray(a, np.float64).reshape(-1, 4).T)
    b = np.ascontiguousarray(np.asarray(b, np.float64).reshape(-1, 4).T)
    wh = np.maximum(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0)  # of the intersection
    inter = wh[0] * wh[1]
    return inter / np.maximum(_area(a) + _area(b) - inter, EPS)


def hmiou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Height-modulated IoU (K,) of row-paired xyxy boxes (Hybrid-SORT): IoU times the IoU of their
    vertical extents. People at different depths differ in height and bottom edge even where
    their boxes overlap, so the product separates them better than IoU alone."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    inter = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0)
    union = np.maximum(a[:, 3], b[:, 3]) - np.minimum(a[:, 1], b[:, 1])
    return iou_pairs(a, b) * inter / np.maximum(union, EPS)


def centres(boxes: np.ndarray) -> np.ndarray:
    """Centre points (N,2) of xyxy ``boxes``."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return (boxes[:, :2] + boxes[:, 2:]) / 2.0


def lengths(vectors: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """Euclidean length of each row of ``vectors`` (N,D), computed as ``np.linalg.norm(vectors, axis=1)`` does it
    (to the bit) without its argument handling, which costs more than the sum on a few rows."""
    return np.sqrt((vectors * vectors).sum(axis=1, keepdims=keepdims))


def direction_pairs(anchor: np.ndarray, last: np.ndarray, target: np.ndarray) -> np.ndarray:
    """OC-SORT's direction consistency (K,) in [0, 1]: the angle, as a fraction of pi, between a track's
    heading (from an earlier sighting ``anchor`` to its latest one ``last``) and the step from ``last``
    to a candidate ``target``; all (K,2) points. 0 where a heading or step is undefined (no earlier
    sighting: nan, or no movement)."""
    u = np.asarray(last, np.float64) - anchor
    v = np.asarray(target, np.float64) - last
    norms = lengths(u) * lengths(v)
    valid = np.isfinite(norms) & (norms > EPS)
    cos = np.einsum("kd,kd->k", u, v) / np.where(valid, norms, 1.0)
    return np.where(valid, np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi, 0.0)


def shape_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """BoostTrack's shape similarity (K,) in (0, 1] of row-paired xyxy boxes: exp(-(relative width
    difference + relative height difference)); 1 for boxes of the same size wherever they are."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    wa, ha, wb, hb = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    dw = np.abs(wa - wb) / np.maximum(np.maximum(wa, wb), EPS)
    dh = np.abs(ha - hb) / np.maximum(np.maximum(ha, hb), EPS)
    return np.exp(-(dw + dh))


def best_per_column(cols: np.ndarray, values: np.ndarray, n_cols: int) -> np.ndarray:
    """(n_cols,) the largest of ``values`` over the pairs of each column, 0 where a column has none."""
    out = np.zeros(n_cols)
    np.maximum.at(out, cols, values)
    return out


def buffer_boxes(boxes: np.ndarray, fraction: float) -> np.ndarray:
    """xyxy ``boxes`` grown on every side by ``fraction`` of their width (left, right) and height (top,
    bottom): the buffered IoU of C-BIoU, which lets a fast or briefly missed object still overlap its
    track while keeping the shape and scale of both boxes."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    pad = fraction * (boxes[:, 2:] - boxes[:, :2])
    return np.concatenate([boxes[:, :2] - pad, boxes[:, 2:] + pad], axis=1)


def overlapping_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(ia, ib)`` of every box of ``a`` (N,4) and ``b`` (M,4) whose intersection is not empty.

    A sweep along x: with ``b`` sorted by left edge, the boxes of ``b`` that can
    reach box ``a[i]`` have their left edge in ``(a.x1 - widest b, a.x2)``, found by
    binary search; the candidates are then checked exactly. Cost grows with the
    number of neighbours, not with N x M (a frame-wide box degrades it to N x M).
    Pairs come ordered by ``ia``, then by the left edge of ``b[ib]``.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = b[:, 0].argsort(kind="stable")  # array methods: numpy's function wrappers cost more on a few rows
    if len(a) * len(b) <= OVERLAP_GRID_MAX:
        return _overlapping_grid(a, b, order)
    # one contiguous array per coordinate (gathers from them are faster than from box columns)
    ax0, ay0, ax1, ay1 = np.ascontiguousarray(a.T)
    bx0, by0, bx1, by1 = np.ascontiguousarray(b[order].T)  # sorted by left edge
    widest = float(np.max(bx1 - bx0))
    lo = np.searchsorted(bx0, ax0 - widest, side="right")
    hi = np.searchsorted(bx0, ax1, side="left")
    counts = np.maximum(hi - lo, 0)
    ia = np.repeat(np.arange(len(a)), counts)
    # position in the sorted b: each a's range start plus a running index within the range
    pos = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(len(ia))
    overlap = np.minimum(ax1[ia], bx1[pos]) > np.maximum(ax0[ia], bx0[pos])
    overlap &= np.minimum(ay1[ia], by1[pos]) > np.maximum(ay0[ia], by0[pos])
    return ia[overlap], order[pos[overlap]]


def _overlapping_grid(a: np.ndarray, b: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`overlapping_pairs` of few boxes: the sweep's window and exact test applied to every pair at once
    (``b`` taken in the sweep's ``order``), so the same pairs come out in the same order."""
    b = b[order]
    widest = float((b[:, 2] - b[:, 0]).max())
    # the sweep's candidates have their left edge within reach of box a: past a.x1 - widest (and before a.x2,
    # which the exact test implies); the exact test takes x and y at once, (N,M,2)
    hit = b[:, 0] > a[:, 0, None] - widest
    overlap = np.minimum(a[:, None, 2:], b[:, 2:]) > np.maximum(a[:, None, :2], b[:, :2])
    hit &= overlap[:, :, 0] & overlap[:, :, 1]
    ia, pos = hit.nonzero()
    return ia, order[pos]


def track_aware_nms(boxes: np.ndarray, scores: np.ndarray, track_boxes: np.ndarray, max_iou: float) -> np.ndarray:
    """Which candidate new tracks to start (TrackTrack's track-aware initialisation), a mask over ``boxes``.

    A candidate is dropped when it overlaps a live track's box (``track_boxes``) or a higher-scored
    candidate by more than ``max_iou`` IoU: a second detection of a tracked person, or of a person
    another candidate already starts, would only start a duplicate. Candidates are compared with
    every higher-scored one, suppressed or not (Fast NMS): no sequential loop, and only over the
    pairs that overlap at all.
    """
    keep = np.ones(len(boxes), bool)
    i, j = overlapping_pairs(boxes, track_boxes)
    keep[i[iou_pairs(boxes[i], track_boxes[j]) > max_iou]] = False
    i, j = overlapping_pairs(boxes, boxes)
    beaten = (scores[j] > scores[i]) & (iou_pairs(boxes[i], boxes[j]) > max_iou)
    keep[i[beaten]] = False
    return keep


def cosine_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity (K,) of row-paired L2-normalised vectors, in [0, 2]."""
    # the embeddings' own dtype (float32): a float64 copy of (K,D) would cost more than the products
    similarity = np.einsum("kd,kd->k", a, np.asarray(b, dtype=np.result_type(a))).astype(np.float64)
    return np.clip(1.0 - similarity, 0.0, 2.0)


def gallery_distance(gallery: np.ndarray, counts: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Smallest cosine distance (T,M) between each track's stored features and each detection.

    gallery: (T,K,D) features per track, of which the first ``counts[t]`` are filled.
    """
    t, k, d = gallery.shape
    if t == 0 or len(features) == 0:
        return np.zeros((t, len(features)))
    k = max(int(counts.max()), 1)  # slots past the fullest gallery are empty for everyone
    sim = matmul(gallery[:, :k].reshape(t * k, d), np.asarray(features, gallery.dtype).T).reshape(t, k, -1)
    filled = np.arange(k)[None, :] < counts[:, None]
    sim = np.where(filled[:, :, None], sim, -np.inf)
    return np.clip(1.0 - sim.max(axis=1), 0.0, 2.0).astype(np.float64)


def fuse_score(cost: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Weight an IoU distance by detection confidence: 1 - IoU * score (ByteTrack).

    ``scores`` broadcasts over the last axis: one per column of a matrix, one per pair of a vector.
    """
    return 1.0 - (1.0 - cost) * np.asarray(scores, np.float64)


def gate(cost: np.ndarray, forbidden: np.ndarray) -> np.ndarray:
    """Return a copy of ``cost`` with forbidden pairs set to inf."""
    return np.where(forbidden, np.inf, cost)


def linear_assignment(cost: np.ndarray, threshold: float, solver=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment of a dense ``cost`` (N,M), keeping only pairs with cost <= threshold.

    ``solver``: what assigns the gated pairs, with :func:`sparse_assignment`'s arguments (the default).
    Returns (matches (K,2) [row, col], unmatched rows, unmatched cols), all int64.
    """
    rows, cols = np.nonzero(np.isfinite(cost) & (cost <= threshold))
    return (solver or sparse_assignment)(rows, cols, cost[rows, cols], threshold, cost.shape)


def sparse_assignment(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, threshold: float, shape: tuple[int, int],
    margin: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment over the candidate pairs ``(rows[k], cols[k])`` with costs ``cost[k]``.

    Pairs above ``threshold`` (or inf) never match, and absent pairs are forbidden.
    The result is a matching with the most feasible pairs and, among those, the
    least total cost, exactly as Hungarian on the full matrix with forbidden pairs
    priced out. With ``margin`` it is instead the matching of the largest total margin
    ``threshold - cost`` (:func:`margin_assignment`). A pair whose row and column have
    no other candidate is matched directly. The rest, when few, get one dense Hungarian;
    when many (crowds), they are split into independent groups first (:func:`_solve_groups`).
    Returns (matches (K,2) [row, col], unmatched rows, unmatched cols), all int64.
    """
    n_rows, n_cols = shape
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    cost = np.asarray(cost, np.float64)
    feasible = np.isfinite(cost) & ((cost < threshold) if margin else (cost <= threshold))
    if not feasible.all():
        rows, cols, cost = rows[feasible], cols[feasible], cost[feasible]
    if margin:  # the same problem as a minimum: cost - threshold < 0, and an absent pair (no match) costs 0
        cost = cost - threshold
    alone = (np.bincount(rows, minlength=n_rows)[rows] == 1) & (np.bincount(cols, minlength=n_cols)[cols] == 1)
    if alone.all():  # few objects: typically every candidate pair is alone
        matched = pair_up(rows, cols)
    else:
        matches = [pair_up(rows[alone], cols[alone])]
        rows, cols, cost = rows[~alone], cols[~alone], cost[~alone]
        size = int(present(rows, n_rows).sum()) * int(present(cols, n_cols).sum())
        if size <= DENSE_HUNGARIAN_MAX:
            matches.append(_dense_hungarian(rows, cols, cost, threshold, margin))
        else:
            matches.append(_solve_groups(rows, cols, cost, threshold, shape, margin))
        matched = np.concatenate(matches).astype(np.int64).reshape(-1, 2)
    matched = matched[matched[:, 0].argsort(kind="stable")]
    return matched, unused(matched[:, 0], n_rows), unused(matched[:, 1], n_cols)


def margin_assignment(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, threshold: float, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The assignment rule of the ByteTrack / BoT-SORT papers' code (``lap.lapjv(cost, extend_cost=True,
    cost_limit=threshold)``, also Ultralytics' and BoxMOT's), same arguments and result as :func:`sparse_assignment`.

    lapjv's extension lets every row and column stay unmatched at half the threshold each, so it finds
    the matching of the largest total margin ``threshold - cost``, not the one of the most pairs: it
    leaves a pair near the threshold unmatched when that lets another pair match with a larger margin.
    A pair at the threshold (no margin) never matches. Solved as :func:`sparse_assignment` solves
    its own rule, on ``cost - threshold`` with an absent pair costing 0 (staying unmatched).
    """
    return sparse_assignment(rows, cols, cost, threshold, shape, margin=True)


def iterative_assignment(
    rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, threshold: float, shape: tuple[int, int], step: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TrackTrack's iterative assignment over candidate pairs, same arguments and result as
    :func:`sparse_assignment`.

    Round after round, every pair that is both its row's and its column's cheapest feasible pair is
    matched and its row and column leave; each round the threshold drops by ``step``, so a pair that
    only becomes mutually best once better ones are gone must also be better. Unlike Hungarian, no
    pair is traded for a worse one to match more rows: a track takes the detection it fits best or
    none. Each round is a few array operations over the pairs left; the cheapest pair left is always
    mutual, so every round matches at least one pair.
    """
    n_rows, n_cols = shape
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    cost = np.asarray(cost, np.float64)
    alive = np.isfinite(cost) & (cost <= threshold)
    found = [np.zeros((0, 2), np.int64)]
    while alive.any():
        k = np.flatnonzero(alive)
        r, c, v = rows[k], cols[k], cost[k]
        by_row = np.lexsort((v, r))
        by_col = np.lexsort((v, c))
        row_best = by_row[np.unique(r[by_row], return_index=True)[1]]
        col_best = by_col[np.unique(c[by_col], return_index=True)[1]]
        mutual = np.intersect1d(row_best, col_best)
        found.append(pair_up(r[mutual], c[mutual]))
        threshold -= step
        alive &= ~present(r[mutual], n_rows)[rows] & ~present(c[mutual], n_cols)[cols] & (cost <= threshold)
    matched = np.concatenate(found)
    matched = matched[np.argsort(matched[:, 0], kind="stable")]
    return matched, unused(matched[:, 0], n_rows), unused(matched[:, 1], n_cols)


def _absent_cost(cost: np.ndarray, threshold: float, margin: bool) -> float:
    """What a pair that is no candidate costs the solvers. The most pairs first: more than all candidates together,
    so no solution trades a candidate pair for one; by margin (costs already less the threshold): 0, staying
    unmatched. Either way such pairs are dropped from the solution."""
    return 0.0 if margin else threshold + 1.0 + float(np.abs(cost).sum())


def _dense_hungarian(rows, cols, cost, threshold: float, margin: bool = False) -> np.ndarray:
    """Optimal matches (K,2) of feasible candidate pairs, by one Hungarian over their rows and columns."""
    from scipy.optimize import linear_sum_assignment

    r_ids, r = np.unique(rows, return_inverse=True)
    c_ids, c = np.unique(cols, return_inverse=True)
    absent = _absent_cost(cost, threshold, margin)
    dense = np.full((len(r_ids), len(c_ids)), absent)
    dense[r, c] = cost
    rr, cc = linear_sum_assignment(dense)
    keep = dense[rr, cc] < absent
    return pair_up(r_ids[rr[keep]], c_ids[cc[keep]])


def _solve_groups(rows, cols, cost, threshold: float, shape: tuple[int, int], margin: bool = False) -> np.ndarray:
    """Optimal matches (K,2) of feasible candidate pairs, group by group.

    Groups are the connected components of rows and columns that share candidates;
    they are independent. A group with one row or one column matches one pair only,
    its cheapest. Groups of up to SMALL_GROUP rows and columns (nearly all the rest)
    are solved together by trying every permutation as array operations; larger ones
    share a few dense Hungarians (:func:`_packs`). Absent pairs cost :func:`_absent_cost`.
    """
    n_rows, n_cols = shape
    group = _components(rows, cols, n_rows, n_cols)
    r_keys, r_local, r_start = _local_index(group, rows, n_rows)
    c_keys, c_local, c_start = _local_index(group, cols, n_cols)
    ids = np.unique(group)
    n_r, n_c = r_start[ids + 1] - r_start[ids], c_start[ids + 1] - c_start[ids]
    out = []
    # one row or one column: the group's cheapest pair (the first, cost-ordered, of each group)
    star = np.zeros(len(r_start), bool)
    star[ids[(n_r == 1) | (n_c == 1)]] = True
    k = np.flatnonzero(star[group])
    order = k[np.lexsort((cost[k], group[k]))]
    first = order[np.unique(group[order], return_index=True)[1]]
    out.append(pair_up(rows[first], cols[first]))
    # small groups: every permutation of a padded SMALL_GROUP x SMALL_GROUP block at once
    absent = _absent_cost(cost, threshold, margin)
    small = ~star[ids] & (np.maximum(n_r, n_c) <= SMALL_GROUP)
    slot = np.full(len(r_start), -1)
    slot[ids[small]] = np.arange(int(small.sum()))
    k = slot[group] >= 0
    dense = np.full((int(small.sum()), SMALL_GROUP, SMALL_GROUP), absent)
    dense[slot[group[k]], r_local[k], c_local[k]] = cost[k]
    seats = np.arange(SMALL_GROUP)
    totals = dense[:, seats, _PERMUTATIONS].sum(axis=2)  # (groups, permutations): row i takes column perm[i]
    best = _PERMUTATIONS[totals.argmin(axis=1)]  # (groups, SMALL_GROUP)
    g, i = np.nonzero(np.take_along_axis(dense, best[:, :, None], axis=2)[:, :, 0] < absent)
    gid = ids[small][g]
    out.append(pair_up(r_keys[r_start[gid] + i], c_keys[c_start[gid] + best[g, i]]))
    # larger groups: packed into as few dense Hungarians as keep within DENSE_HUNGARIAN_MAX cells; a
    # pack is block diagonal (pairs across its groups are absent), so it solves each group exactly
    large = ~star[ids] & ~small
    for pack in _packs(ids[large], n_r[large], n_c[large]):
        k = np.isin(group, pack)
        out.append(_dense_hungarian(rows[k], cols[k], cost[k], threshold, margin))
    return np.concatenate(out)


def _components(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """The connected component of each pair ``(rows[k], cols[k])`` of the bipartite graph they form."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    # nodes: rows, then columns; the adjacency built directly in CSR form, one edge per pair
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_rows + n_cols + 1, np.int64)
    indptr[1 : n_rows + 1] = np.cumsum(np.bincount(rows, minlength=n_rows))
    indptr[n_rows + 1 :] = indptr[n_rows]
    nodes = n_rows + n_cols
    graph = csr_matrix((np.ones(len(rows)), n_rows + cols[order], indptr), shape=(nodes, nodes))
    return connected_components(graph, directed=False)[1][rows]


def _packs(ids: np.ndarray, n_rows: np.ndarray, n_cols: np.ndarray) -> list[np.ndarray]:
    """Consecutive runs of group ``ids`` whose rows x columns together stay within DENSE_HUNGARIAN_MAX.

    A group larger than that on its own is a run of one.
    """
    packs, start, rows, cols = [], 0, 0, 0
    for i, (r, c) in enumerate(zip(n_rows.tolist(), n_cols.tolist())):
        if i > start and (rows + r) * (cols + c) > DENSE_HUNGARIAN_MAX:
            packs.append(ids[start:i])
            start, rows, cols = i, 0, 0
        rows, cols = rows + r, cols + c
    if len(ids):
        packs.append(ids[start:])
    return packs


def pair_up(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(K,2) pairs ``[rows[k], cols[k]]`` (np.stack's argument handling costs more than the copy on a few pairs)."""
    return np.array([rows, cols]).T


def present(index: np.ndarray, n: int) -> np.ndarray:
    """(n,) mask of the values that occur in ``index``."""
    mask = np.zeros(n, bool)
    mask[index] = True
    return mask


def _local_index(group: np.ndarray, index: np.ndarray, n: int):
    """Number the distinct values of ``index`` within each group.

    Returns (the values, grouped and ascending; each pair's number within its group;
    where each group's values start, indexed by group, one past the last group at the end).
    """
    keys, inverse = np.unique(group * n + index, return_inverse=True)
    groups = keys // n
    start = np.searchsorted(groups, np.arange(int(group.max()) + 2))
    return keys % n, inverse - start[group], start


def unused(used: np.ndarray, n: int) -> np.ndarray:
    """The indices in ``range(n)`` not in ``used``, ascending (a mask: setdiff1d sorts, and costs 20x more here)."""
    return (~present(used, n)).nonzero()[0]
