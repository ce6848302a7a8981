"""Relative detection scores: a running quantile of the detector's own scores as the reference."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.tracking.scores import ScoreScale, quantile


def test_scores_are_fractions_of_the_running_quantile_capped_at_one():
    scale = ScoreScale(0.5)
    np.testing.assert_allclose(scale(np.array([2.0, 4.0, 6.0])), [0.5, 1.0, 1.0])  # median 4
    assert scale.reference() == pytest.approx(4.0)
    scale(np.array([8.0, 10.0]))  # remembered: 2, 4, 6, 8, 10
    assert scale.reference() == pytest.approx(6.0)


def test_only_the_latest_window_of_scores_counts():
    scale = ScoreScale(0.5, window=4)
    scale(np.array([100.0, 100.0, 100.0]))
    scale(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))  # more than the window at once: the last four stay
    assert scale.reference() == pytest.approx(4.5)
    scale(np.array([7.0]))  # replaces the oldest (3)
    assert scale.reference() == pytest.approx(5.5)


def test_no_scores_and_non_positive_references_leave_scores_alone():
    scale = ScoreScale(0.9)
    assert scale.reference() == 1.0
    assert scale(np.zeros(0)).shape == (0,)
    np.testing.assert_allclose(scale(np.array([-0.5, -0.2])), [-0.5, -0.2])  # e.g. DPM's negative scores
    assert scale(np.array([-0.3, 1.0], np.float32)).dtype == np.float32


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 0.95, 0.999, 1.0, 0.3141])
def test_quantile_is_numpys_to_the_bit(q):
    rng = np.random.default_rng(int(q * 1e4))
    samples = [rng.random(n) for n in (1, 2, 3, 7, 10, 600, 4096)]
    samples += [rng.integers(0, 4, 50).astype(np.float64), rng.normal(0, 100, 999),
                rng.random(333).astype(np.float32).astype(np.float64)]  # ties, negatives, float32 scores
    for values in samples:
        ours, theirs = quantile(values, q), np.quantile(values, q)
        assert np.float64(ours).tobytes() == np.float64(theirs).tobytes(), (len(values), q)
