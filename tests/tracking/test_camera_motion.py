"""Camera motion compensation: recovers a known camera shift and moves track states with it."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from tracker.config import load_config
from tracker.tracking.camera_motion import (
    STATIC_SHARE,
    CameraMotion,
    apply_warp,
    camera_is_static,
    warp_boxes,
    warp_points,
)
from tracker.tracking.kalman import LAYOUTS


def _cfg(method, downscale=2):
    """The camera motion settings of ``method``; the synthetic frames here are 320x240, so at most halved."""
    return load_config(overrides={"tracker.cmc.method": method, "tracker.cmc.downscale": downscale}).tracker.cmc


def _scene(seed=0, size=(240, 320)):
    rng = np.random.default_rng(seed)
    img = (rng.random((size[0] // 8, size[1] // 8)) * 255).astype(np.uint8)
    img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("method", ["sparse", "auto", "orb", "ecc"])
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


def test_warp_boxes_maps_corners_and_takes_their_box():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0]])
    scale = np.array([[2.0, 0.0, 5.0], [0.0, 2.0, -3.0]])
    np.testing.assert_allclose(warp_boxes(boxes, scale), [[25.0, 37.0, 65.0, 117.0]])
    quarter_turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])  # (x, y) -> (-y, x)
    np.testing.assert_allclose(warp_boxes(boxes, quarter_turn), [[-60.0, 10.0, -20.0, 30.0]])
    assert warp_boxes(np.zeros((0, 4)), scale).shape == (0, 4)
    points = warp_points(np.array([[10.0, 20.0], [np.nan, np.nan]]), scale)  # a heading not known yet stays so
    np.testing.assert_allclose(points[0], [25.0, 37.0])
    assert np.isnan(points[1]).all()


def test_auto_ignores_people_moving_in_front_of_a_static_camera():
    """A textured patch (a person) moves across a static background: auto sees the still background and
    keeps the identity, and counts no moving frame."""
    base = _scene(seed=1)
    person = _scene(seed=2, size=(120, 80))
    auto = CameraMotion(_cfg("auto"))
    for x in (40, 52):
        img = base.copy()
        img[60:180, x : x + 80] = person
        warp = auto.estimate(img)
    np.testing.assert_allclose(warp, np.eye(2, 3))
    assert auto.moving_frames == 0 and auto.failures == 0


def test_camera_is_static_needs_a_share_of_still_corners():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (40, 2))
    moved = src + [3.0, 0.0]
    assert camera_is_static(src, src + rng.normal(0, 0.02, src.shape))
    assert not camera_is_static(src, moved)
    share = int(np.ceil(STATIC_SHARE * len(src)))
    assert camera_is_static(src, np.concatenate([src[:share], moved[share:]]))
    assert not camera_is_static(src, np.concatenate([src[: share - 1], moved[share - 1 :]]))
    assert not camera_is_static(src[:3], src[:3])  # too few corners to tell: the warp fit decides (and says so)
