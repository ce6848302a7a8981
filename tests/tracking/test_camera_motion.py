"""Camera motion compensation: recovers a known camera shift and moves track states with it."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from tracker.config import load_config
from tracker.tracking.camera_motion import CameraMotion, apply_warp
from tracker.tracking.kalman import LAYOUTS


def _cfg(method):
    return load_config(overrides={"tracker.cmc.method": method}).tracker.cmc


def _scene(seed=0, size=(240, 320)):
    rng = np.random.default_rng(seed)
    img = (rng.random((size[0] // 8, size[1] // 8)) * 255).astype(np.uint8)
    img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("method", ["sparse", "orb", "ecc"])
def test_recovers_camera_translation(method):
    base = _scene()
    shift = np.float32([[1, 0, 6], [0, 1, -4]])
    moved = cv2.warpAffine(base, shift, (base.shape[1], base.shape[0]), borderMode=cv2.BORDER_REFLECT)
    cmc = CameraMotion(_cfg(method))
    first = cmc.estimate(base)
    np.testing.assert_allclose(first, np.eye(2, 3))
    warp = cmc.estimate(moved)
    np.testing.assert_allclose(warp[:, :2], np.eye(2), atol=0.03)
    np.testing.assert_allclose(warp[:, 2], [6, -4], atol=1.0)
    assert cmc.failures == 0


def test_failure_is_counted_and_logged_once(caplog):
    cmc = CameraMotion(_cfg("sparse"))
    blank = np.zeros((120, 160, 3), np.uint8)
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            warp = cmc.estimate(blank)
    np.testing.assert_allclose(warp, np.eye(2, 3))
    assert cmc.failures == 3
    assert sum("camera motion" in r.message for r in caplog.records) == 1


def test_none_is_identity_and_disabled():
    cmc = CameraMotion(_cfg("none"))
    assert not cmc.enabled
    np.testing.assert_allclose(cmc.estimate(_scene()), np.eye(2, 3))


@pytest.mark.parametrize("state", ["xyah", "xywh"])
def test_apply_warp_moves_all_states(state):
    mean = np.array([[100.0, 50.0, 0.5, 80.0, 3.0, 1.0, 0.0, 0.0], [10.0, 20.0, 0.4, 40.0, 0.0, 0.0, 0.0, 0.0]])
    cov = np.repeat(np.eye(8)[None], 2, axis=0)
    scale = np.array([[2.0, 0.0, 5.0], [0.0, 2.0, -3.0]])
    m, c = apply_warp(mean, cov, scale, LAYOUTS[state])
    np.testing.assert_allclose(m[:, :2], mean[:, :2] * 2 + [5, -3])
    np.testing.assert_allclose(m[:, 4:6], mean[:, 4:6] * 2)
    if state == "xywh":
        np.testing.assert_allclose(m[:, 2:4], mean[:, 2:4] * 2)
    else:
        np.testing.assert_allclose(m[:, 2:4], mean[:, 2:4])
    assert c[0, 0, 0] == pytest.approx(4.0)
