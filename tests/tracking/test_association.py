"""Cost functions and assignment, including property tests on random and degenerate boxes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment

from tracker.tracking import association
from tracker.tracking.association import (
    best_per_column,
    buffer_boxes,
    cosine_pairs,
    direction_pairs,
    fuse_score,
    gallery_distance,
    hmiou_pairs,
    iou_pairs,
    iterative_assignment,
    lengths,
    linear_assignment,
    margin_assignment,
    overlapping_pairs,
    shape_pairs,
    sparse_assignment,
    track_aware_nms,
)

# ----- oracles: the dense (N,M) forms of the costs, which the trackers no longer use ----------------------
EPS = 1e-9  # guards divisions by zero areas


def _overlap(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Length of the overlap of intervals [a0, a1] and [b0, b1], every pair, (N,M)."""
    out = np.minimum(a1[:, None], b1[None, :])
    out -= np.maximum(a0[:, None], b0[None, :])
    return np.maximum(out, 0, out=out)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (N,M) between xyxy boxes ``a`` (N,4) and ``b`` (M,4), in float32, as separable x and y overlaps."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    inter = _overlap(a[:, 0], a[:, 2], b[:, 0], b[:, 2])
    inter *= _overlap(a[:, 1], a[:, 3], b[:, 1], b[:, 3])
    union = _area(a)[:, None] + _area(b)[None, :]
    union -= inter
    np.maximum(union, EPS, out=union)
    return np.divide(inter, union, out=inter)


def giou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Generalised IoU (N,M) in [-1, 1]: IoU minus the empty share of the enclosing box."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    inter = _overlap(a[:, 0], a[:, 2], b[:, 0], b[:, 2]) * _overlap(a[:, 1], a[:, 3], b[:, 1], b[:, 3])
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    hull_w = np.maximum(a[:, None, 2], b[None, :, 2]) - np.minimum(a[:, None, 0], b[None, :, 0])
    hull_h = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    hull = hull_w * hull_h
    return inter / np.maximum(union, EPS) - (hull - union) / np.maximum(hull, EPS)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity (N,M) of L2-normalised rows, in [0, 2]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return np.clip(1.0 - np.asarray(a, np.float64) @ np.asarray(b, np.float64).T, 0.0, 2.0)


coords = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


def boxes_strategy(max_n=8):
    return st.integers(0, max_n).flatmap(
        lambda n: arrays(np.float64, (n, 4), elements=coords).map(
            lambda a: np.concatenate([np.minimum(a[:, :2], a[:, 2:]), np.maximum(a[:, :2], a[:, 2:])], axis=1)
        )
    )


def test_iou_known_values():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 5, 5]], float)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0, 0.25])


def test_giou_penalises_distance():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[20, 0, 30, 10], [40, 0, 50, 10]], float)
    g = giou_matrix(a, b)[0]
    assert g[0] < 0 and g[1] < g[0]
    np.testing.assert_allclose(giou_matrix(a, a), [[1.0]])


@settings(max_examples=200, deadline=None)
@given(boxes_strategy(), boxes_strategy())
def test_iou_properties(a, b):
    iou = iou_matrix(a, b)
    assert iou.shape == (len(a), len(b))
    assert np.all(np.isfinite(iou))
    assert np.all((iou >= 0) & (iou <= 1 + 1e-9))
    np.testing.assert_allclose(iou, iou_matrix(b, a).T)
    g = giou_matrix(a, b)
    assert np.all(np.isfinite(g)) and np.all(g <= iou + 1e-6)  # iou is float32 and np.all(g >= -1 - 1e-9)


def test_cosine_and_gallery_distance():
    f = np.eye(3, dtype=np.float32)
    np.testing.assert_allclose(cosine_distance(f, f), 1 - np.eye(3), atol=1e-7)
    gallery = np.zeros((2, 3, 3), np.float32)
    gallery[0, 0] = [1, 0, 0]
    gallery[0, 1] = [0, 1, 0]
    gallery[1, 0] = [0, 0, 1]
    gallery[1, 1] = [1, 0, 0]  # beyond the filled count of track 1: must be ignored
    d = gallery_distance(gallery, np.array([2, 1]), f)
    np.testing.assert_allclose(d, [[0, 0, 1], [1, 1, 0]], atol=1e-7)


@pytest.mark.parametrize("rows, small", [(1, True), (7, True), (80, False)])
def test_matmul_is_the_product_with_or_without_a_thread_limit(rows, small):
    rng = np.random.default_rng(rows)
    a, b = rng.normal(size=(rows, 128)).astype(np.float32), rng.normal(size=(128, 3)).astype(np.float32)
    assert (rows * 128 * 3 < association.BLAS_ONE_THREAD_MAX) == small  # both sides of the limit are tried
    assert np.array_equal(association.matmul(a, b), a @ b)


def test_fuse_score():
    cost = np.array([[0.2, 1.0]])
    np.testing.assert_allclose(fuse_score(cost, np.array([0.5, 0.9])), [[1 - 0.8 * 0.5, 1.0]])


def test_linear_assignment_respects_threshold_and_inf():
    cost = np.array([[0.1, 0.9, np.inf], [0.2, 0.15, 0.95], [np.inf, np.inf, np.inf]])
    m, ur, uc = linear_assignment(cost, 0.5)
    assert sorted(map(tuple, m.tolist())) == [(0, 0), (1, 1)]
    assert ur.tolist() == [2] and uc.tolist() == [2]


def test_linear_assignment_does_not_trade_good_pair_for_forbidden():
    # The global optimum with a finite "big" could pair (0,1),(1,0); we want (0,0) kept.
    cost = np.array([[0.1, 0.3], [0.2, np.inf]])
    m, _, _ = linear_assignment(cost, 0.25)
    assert m.tolist() == [[0, 0]]


def test_linear_assignment_empty():
    m, ur, uc = linear_assignment(np.zeros((0, 3)), 0.5)
    assert m.shape == (0, 2) and ur.size == 0 and uc.tolist() == [0, 1, 2]


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 7), st.integers(1, 7)), elements=st.floats(0, 1)), st.floats(0.05, 1))
def test_assignment_is_optimal_among_feasible_pairs(cost, threshold):
    m, ur, uc = linear_assignment(cost, threshold)
    assert np.all(cost[m[:, 0], m[:, 1]] <= threshold)
    assert len(set(m[:, 0])) == len(m) and len(set(m[:, 1])) == len(m)
    assert len(m) + len(ur) == cost.shape[0] and len(m) + len(uc) == cost.shape[1]
    # Same number of matches as the maximum-cardinality optimum on feasible pairs.
    feasible = cost <= threshold
    r, c = linear_sum_assignment(np.where(feasible, cost - 10.0, 0.0))
    assert len(m) == int(feasible[r, c].sum())


# --- the sparse path: overlapping pairs only -------------------------------------------------


def small_boxes(max_n=12):
    """Boxes in a small field so that many overlap, some touch, some are degenerate."""
    corner = st.integers(0, 60).map(float)
    return st.integers(0, max_n).flatmap(
        lambda n: arrays(np.float64, (n, 4), elements=corner).map(
            lambda a: np.concatenate([np.minimum(a[:, :2], a[:, 2:]), np.maximum(a[:, :2], a[:, 2:])], axis=1)
        )
    )


def overlapping_pairs_by(method: str, a: np.ndarray, b: np.ndarray):
    """:func:`overlapping_pairs` forced to take its sweep, or its grid (the way for few boxes)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(association, "OVERLAP_GRID_MAX", 0 if method == "sweep" else len(a) * len(b))
        return overlapping_pairs(a, b)


@settings(max_examples=300, deadline=None)
@given(small_boxes(), small_boxes())
def test_overlapping_pairs_are_exactly_the_pairs_with_positive_iou(a, b):
    ia, ib = overlapping_pairs_by("sweep", a, b)
    found = set(zip(ia.tolist(), ib.tolist()))
    assert len(found) == len(ia), "no pair twice"
    dense = iou_matrix(a, b) if len(a) and len(b) else np.zeros((len(a), len(b)))
    assert found == set(zip(*np.nonzero(dense > 0)))
    np.testing.assert_allclose(iou_pairs(a[ia], b[ib]), dense[ia, ib], rtol=1e-5)


@settings(max_examples=300, deadline=None)
@given(small_boxes(), small_boxes(), st.sampled_from([None, np.nan, np.inf]))
def test_overlapping_pairs_of_few_boxes_are_the_sweeps_in_its_order(a, b, odd):
    """The grid that finds the pairs of few boxes gives the sweep's pairs in the sweep's order (which decides
    ties downstream), also where a box has a nan or infinite coordinate."""
    if odd is not None and len(a) and len(b):
        a[0, 2], b[-1, 2] = odd, odd
    sweep, grid = overlapping_pairs_by("sweep", a, b), overlapping_pairs_by("grid", a, b)
    for s, g in zip(sweep, grid):
        np.testing.assert_array_equal(g, s)
        assert g.dtype == s.dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lengths_are_numpys_norms_to_the_bit(dtype):
    """lengths() stands in for np.linalg.norm(axis=1) where outputs must not move by a bit."""
    v = np.random.default_rng(5).normal(size=(9, 128)).astype(dtype)
    for x in (v, v[:, :2]):
        np.testing.assert_array_equal(lengths(x), np.linalg.norm(x, axis=1))
        np.testing.assert_array_equal(lengths(x, keepdims=True), np.linalg.norm(x, axis=1, keepdims=True))


def test_cosine_pairs_is_the_diagonal_of_cosine_distance():
    f = np.random.default_rng(0).normal(size=(5, 16))
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    g = f[::-1].copy()
    np.testing.assert_allclose(cosine_pairs(f, g), np.diag(cosine_distance(f, g)), atol=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=st.floats(0, 1)),
    st.floats(0.05, 0.95),
    st.floats(0.0, 1.0),
)
def test_sparse_assignment_matches_hungarian_on_the_full_matrix(cost, threshold, density):
    """Same number of matches and the same total cost as one Hungarian pass over every pair."""
    rng = np.random.default_rng(int(cost.sum() * 1e6) % 2**32)
    present = rng.random(cost.shape) < density  # the candidate pairs; absent ones are forbidden
    rows, cols = np.nonzero(present)
    m, ur, uc = sparse_assignment(rows, cols, cost[rows, cols], threshold, cost.shape)
    assert present[m[:, 0], m[:, 1]].all() and (cost[m[:, 0], m[:, 1]] <= threshold).all()
    assert len(set(m[:, 0])) == len(m) and len(set(m[:, 1])) == len(m)
    assert sorted([*m[:, 0], *ur]) == list(range(cost.shape[0]))
    assert sorted([*m[:, 1], *uc]) == list(range(cost.shape[1]))
    feasible = present & (cost <= threshold)
    big = 1e6
    r, c = linear_sum_assignment(np.where(feasible, cost, big))
    keep = feasible[r, c]
    assert len(m) == keep.sum()
    assert cost[m[:, 0], m[:, 1]].sum() == pytest.approx(cost[r[keep], c[keep]].sum(), abs=1e-9)


def test_packs_keep_within_the_cell_limit(monkeypatch):
    import tracker.tracking.association as association

    monkeypatch.setattr(association, "DENSE_HUNGARIAN_MAX", 100)
    ids = np.arange(6)
    packs = association._packs(ids, np.array([5, 5, 5, 20, 3, 3]), np.array([5, 5, 5, 20, 3, 3]))
    # 10x10 fits, 15x15 does not; the 20x20 group is over the limit alone; 3+3 x 3+3 fits
    assert [p.tolist() for p in packs] == [[0, 1], [2], [3], [4, 5]]
    assert association._packs(ids[:0], ids[:0], ids[:0]) == []


def test_isolated_pairs_match_without_hungarian():
    # three isolated pairs and one contested block: rows 3,4 both want column 3
    rows = np.array([0, 1, 2, 3, 4, 4])
    cols = np.array([2, 0, 1, 3, 3, 4])
    cost = np.array([0.1, 0.2, 0.3, 0.1, 0.2, 0.4])
    m, ur, uc = sparse_assignment(rows, cols, cost, 0.5, (6, 5))
    assert m.tolist() == [[0, 2], [1, 0], [2, 1], [3, 3], [4, 4]]
    assert ur.tolist() == [5] and uc.tolist() == []


@pytest.mark.parametrize("limit", [0, 150])
@pytest.mark.parametrize("seed", range(40))
def test_crowd_path_solves_each_group_optimally(seed, limit, monkeypatch):
    """Above DENSE_HUNGARIAN_MAX the contested pairs are solved group by group (stars, every permutation of
    small groups, Hungarian for large ones, alone (limit 0) or packed several to a matrix): same matches
    count and total cost as Hungarian on the full matrix."""
    import tracker.tracking.association as association

    monkeypatch.setattr(association, "DENSE_HUNGARIAN_MAX", limit)  # force the crowd path at test sizes
    rng = np.random.default_rng(seed)
    n_rows, n_cols = rng.integers(5, 60, size=2)
    # block structure: groups of 1-7 rows and columns, so stars, small and large groups all occur
    present = np.zeros((n_rows, n_cols), bool)
    r = c = 0
    while r < n_rows and c < n_cols:
        h, w = rng.integers(1, 8, size=2)
        present[r : r + h, c : c + w] = rng.random((min(h, n_rows - r), min(w, n_cols - c))) < 0.7
        r, c = r + h, c + w
    cost = rng.random((n_rows, n_cols))
    if seed % 4 == 0:
        cost = np.round(cost, 1)  # ties
    threshold = 0.8
    rows, cols = np.nonzero(present)
    m, ur, uc = sparse_assignment(rows, cols, cost[rows, cols], threshold, (n_rows, n_cols))
    assert present[m[:, 0], m[:, 1]].all() and (cost[m[:, 0], m[:, 1]] <= threshold).all()
    assert len(set(m[:, 0])) == len(m) and len(set(m[:, 1])) == len(m)
    feasible = present & (cost <= threshold)
    rr, cc = linear_sum_assignment(np.where(feasible, cost, 1e6))
    keep = feasible[rr, cc]
    assert len(m) == keep.sum()
    assert cost[m[:, 0], m[:, 1]].sum() == pytest.approx(cost[rr[keep], cc[keep]].sum(), abs=1e-9)


# ----- the association ideas of issue #13, each a named option --------------------------------------------
def test_hmiou_is_iou_times_vertical_iou():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [0, 5, 10, 15], [20, 20, 30, 30]], float)
    # side by side: full vertical overlap, plain IoU; stacked: IoU 1/3 times vertical IoU 5/15
    np.testing.assert_allclose(hmiou_pairs(a, b), [50 / 150, (50 / 150) * (5 / 15), 0.0])


@settings(max_examples=100, deadline=None)
@given(boxes_strategy(), boxes_strategy())
def test_hmiou_never_exceeds_iou(a, b):
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    h = hmiou_pairs(a, b)
    assert np.all(np.isfinite(h)) and np.all(h >= 0) and np.all(h <= iou_pairs(a, b) + 1e-12)


def test_buffered_boxes_grow_by_a_fraction_of_their_size():
    boxes = np.array([[10, 20, 30, 60]], float)  # 20 wide, 40 high
    np.testing.assert_allclose(buffer_boxes(boxes, 0.25), [[5, 10, 35, 70]])
    np.testing.assert_allclose(buffer_boxes(boxes, 0.0), boxes)
    # a box that moved past its track overlaps it once both are buffered (C-BIoU)
    track, det = np.array([[0, 0, 10, 20]], float), np.array([[12, 0, 22, 20]], float)
    assert iou_pairs(track, det)[0] == 0 and iou_pairs(buffer_boxes(track, 0.2), buffer_boxes(det, 0.2))[0] > 0


def test_track_aware_nms_drops_candidates_over_tracks_and_better_candidates():
    tracks = np.array([[0, 0, 10, 20]], float)
    boxes = np.array([
        [1, 0, 11, 20],  # a second detection of the tracked person: IoU 0.82 with the track
        [50, 0, 60, 20],  # a new person
        [51, 0, 61, 20],  # the same new person again, lower score
        [100, 0, 110, 20],  # another new person
    ], float)  # fmt: skip
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert track_aware_nms(boxes, scores, tracks, 0.5).tolist() == [False, True, False, True]
    assert track_aware_nms(boxes, scores, np.zeros((0, 4)), 0.5).tolist() == [True, True, False, True]
    assert track_aware_nms(boxes, scores, tracks, 1.0).all()  # 1: off
    assert track_aware_nms(np.zeros((0, 4)), np.zeros(0), tracks, 0.5).shape == (0,)


@settings(max_examples=100, deadline=None)
@given(boxes_strategy(), boxes_strategy(), st.floats(0.05, 0.95))
def test_track_aware_nms_matches_its_definition(boxes, tracks, max_iou):
    """Pair by pair: no track and no higher-scored candidate overlaps a kept candidate by more than max_iou."""
    scores = np.random.default_rng(len(boxes)).permutation(len(boxes)).astype(float)  # distinct scores

    def iou(x, y):
        return iou_pairs(x[None], y[None])[0]

    expected = [
        all(iou(b, t) <= max_iou for t in tracks)
        and not any(scores[j] > scores[i] and iou(b, boxes[j]) > max_iou for j in range(len(boxes)))
        for i, b in enumerate(boxes)
    ]
    assert track_aware_nms(boxes, scores, tracks, max_iou).tolist() == expected


def test_direction_is_the_turn_as_a_fraction_of_pi():
    anchor = np.array([[0, 0], [0, 0], [0, 0], [np.nan, np.nan], [5, 5]], float)
    last = np.array([[10, 0], [10, 0], [10, 0], [10, 0], [5, 5]], float)
    target = np.array([[20, 0], [10, 10], [0, 0], [20, 0], [9, 9]], float)
    # straight on, a right angle, straight back, no heading yet, no movement yet
    np.testing.assert_allclose(direction_pairs(anchor, last, target), [0.0, 0.5, 1.0, 0.0, 0.0], atol=1e-9)


def test_shape_similarity_ignores_position_and_penalises_size():
    a = np.array([[0, 0, 10, 20], [0, 0, 10, 20], [0, 0, 10, 20]], float)
    b = np.array([[50, 50, 60, 70], [0, 0, 20, 20], [0, 0, 5, 10]], float)
    np.testing.assert_allclose(shape_pairs(a, b), [1.0, np.exp(-0.5), np.exp(-1.0)])


def test_best_per_column():
    got = best_per_column(np.array([1, 1, 3]), np.array([0.2, 0.7, 0.5]), 5)
    np.testing.assert_allclose(got, [0, 0.7, 0, 0.5, 0])


def _greedy(cost: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Reference: take pairs cheapest first while their row and column are free."""
    taken_r, taken_c, out = set(), set(), []
    for k in np.argsort(cost, axis=None, kind="stable"):
        r, c = np.unravel_index(k, cost.shape)
        if cost[r, c] <= threshold and r not in taken_r and c not in taken_c:
            taken_r.add(r), taken_c.add(c), out.append((int(r), int(c)))
    return sorted(out)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 7), st.integers(0, 7), st.integers(0, 10**6), st.floats(0.1, 1.0))
def test_iterative_assignment_without_a_step_is_greedy_cheapest_first(n, m, seed, threshold):
    """Rounds of mutually best pairs at a fixed threshold give the cheapest-first greedy matching."""
    cost = np.random.default_rng(seed).permutation(n * m).reshape(n, m) / max(n * m, 1)  # distinct costs
    rows, cols = np.nonzero(np.ones((n, m), bool))
    matched, un_r, un_c = iterative_assignment(rows, cols, cost[rows, cols], threshold, (n, m))
    assert [tuple(p) for p in matched.tolist()] == _greedy(cost, threshold)
    assert sorted(set(range(n)) - set(matched[:, 0].tolist())) == un_r.tolist()
    assert sorted(set(range(m)) - set(matched[:, 1].tolist())) == un_c.tolist()


def test_iterative_assignment_keeps_best_pairs_and_tightens_each_round():
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    rows, cols = np.nonzero(np.ones((2, 2), bool))
    hungarian, _, _ = sparse_assignment(rows, cols, cost[rows, cols], 1.0, (2, 2))
    assert hungarian.tolist() == [[0, 1], [1, 0]]  # the most pairs at the least total cost
    rounds, _, _ = iterative_assignment(rows, cols, cost[rows, cols], 1.0, (2, 2))
    assert rounds.tolist() == [[0, 0], [1, 1]]  # row 0's best stays; row 1 takes what is left
    strict, un_r, _ = iterative_assignment(rows, cols, cost[rows, cols], 0.95, (2, 2), step=0.1)
    assert strict.tolist() == [[0, 0]] and un_r.tolist() == [1]  # round 2 needs <= 0.85


# --- the papers' rule: the largest total margin (threshold - cost) ----------------------------


def best_margin_by_enumeration(cost: np.ndarray, threshold: float) -> float:
    """The largest total of threshold - cost over every one-to-one partial matching of ``cost``, found by trying
    them all (inf: never a pair)."""
    n_rows, n_cols = cost.shape
    best = 0.0

    def extend(row: int, used: frozenset, total: float) -> None:
        nonlocal best
        best = max(best, total)
        for r in range(row, n_rows):
            for c in range(n_cols):
                if c not in used and np.isfinite(cost[r, c]):
                    extend(r + 1, used | {c}, total + threshold - cost[r, c])

    extend(0, frozenset(), 0.0)
    return best


def random_costs(rng, n_rows: int, n_cols: int) -> np.ndarray:
    cost = rng.random((n_rows, n_cols))
    cost[rng.random(cost.shape) < 0.25] = np.inf  # forbidden pairs
    return np.round(cost, 1) if rng.random() < 0.3 else cost  # ties


@pytest.mark.parametrize("seed", range(150))
def test_margin_assignment_is_the_best_total_margin_by_enumeration(seed):
    """Against trying every partial matching: only pairs below the threshold match, and no matching has a larger
    total margin; rectangular and empty matrices included."""
    rng = np.random.default_rng(seed)
    n_rows, n_cols = rng.integers(0, 6, size=2)
    cost = random_costs(rng, n_rows, n_cols)
    threshold = float(rng.uniform(0.2, 0.9))
    m, ur, uc = linear_assignment(cost, threshold, margin_assignment)
    assert (cost[m[:, 0], m[:, 1]] < threshold).all()
    assert len(set(m[:, 0])) == len(m) and len(set(m[:, 1])) == len(m)
    assert sorted([*m[:, 0], *ur]) == list(range(n_rows)) and sorted([*m[:, 1], *uc]) == list(range(n_cols))
    total = float((threshold - cost[m[:, 0], m[:, 1]]).sum())
    assert total == pytest.approx(best_margin_by_enumeration(cost, threshold), abs=1e-9)


@pytest.mark.parametrize("limit", [0, 150])
@pytest.mark.parametrize("seed", range(20))
def test_margin_assignment_on_the_crowd_path_is_the_best_total_margin(seed, limit, monkeypatch):
    """The crowd path (stars, permutations of small groups, Hungarian for large ones) gives the total margin of
    one Hungarian maximising max(threshold - cost, 0) over the whole matrix."""
    monkeypatch.setattr(association, "DENSE_HUNGARIAN_MAX", limit)
    rng = np.random.default_rng(seed)
    n_rows, n_cols = rng.integers(5, 50, size=2)
    present = np.zeros((n_rows, n_cols), bool)
    r = c = 0
    while r < n_rows and c < n_cols:  # groups of 1-7 rows and columns
        h, w = rng.integers(1, 8, size=2)
        present[r : r + h, c : c + w] = rng.random((min(h, n_rows - r), min(w, n_cols - c))) < 0.7
        r, c = r + h, c + w
    cost = random_costs(rng, n_rows, n_cols)
    threshold = 0.8
    rows, cols = np.nonzero(present)
    m, _, _ = margin_assignment(rows, cols, cost[rows, cols], threshold, (n_rows, n_cols))
    assert present[m[:, 0], m[:, 1]].all() and (cost[m[:, 0], m[:, 1]] < threshold).all()
    assert len(set(m[:, 0])) == len(m) and len(set(m[:, 1])) == len(m)
    gain = np.where(present & np.isfinite(cost), np.maximum(threshold - cost, 0.0), 0.0)
    rr, cc = linear_sum_assignment(gain, maximize=True)
    assert (threshold - cost[m[:, 0], m[:, 1]]).sum() == pytest.approx(gain[rr, cc].sum(), abs=1e-9)


def test_margin_assignment_drops_a_pair_near_the_gate_where_the_most_pairs_rule_keeps_it():
    """Row 0 fits column 0 well; it could instead take column 1 (near the 0.8 gate) so that row 1 takes column 0:
    two pairs, which Hungarian prefers, for a total margin of 0.05 + 0.1 against 0.7 for row 0 alone."""
    cost = np.array([[0.1, 0.75], [0.7, np.inf]])
    assert linear_assignment(cost, 0.8)[0].tolist() == [[0, 1], [1, 0]]
    m, ur, uc = linear_assignment(cost, 0.8, margin_assignment)
    assert m.tolist() == [[0, 0]] and ur.tolist() == [1] and uc.tolist() == [1]


def test_margin_assignment_never_matches_a_pair_at_the_threshold():
    m, ur, uc = linear_assignment(np.array([[0.5, 0.2]]), 0.5, margin_assignment)
    assert m.tolist() == [[0, 1]] and uc.tolist() == [0]
    assert len(linear_assignment(np.array([[0.5]]), 0.5, margin_assignment)[0]) == 0


@pytest.mark.parametrize("seed", range(30))
def test_margin_assignment_gives_lapjvs_total_margin(seed):
    """The papers' call itself, where the lap package is installed (Ultralytics needs it): same total margin."""
    lap = pytest.importorskip("lap")
    rng = np.random.default_rng(seed)
    cost = rng.random(tuple(rng.integers(1, 9, size=2)))
    threshold = float(rng.uniform(0.2, 0.9))
    _, x, _ = lap.lapjv(cost, extend_cost=True, cost_limit=threshold)
    theirs = [(r, c) for r, c in enumerate(x) if c >= 0]
    m, _, _ = linear_assignment(cost, threshold, margin_assignment)
    assert (threshold - cost[m[:, 0], m[:, 1]]).sum() == pytest.approx(sum(threshold - cost[p] for p in theirs))
