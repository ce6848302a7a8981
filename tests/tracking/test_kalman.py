"""The vectorised Kalman filter against filterpy's KalmanFilter, track by track."""

from __future__ import annotations

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter as FilterpyKF

from tracker.config import load_config
from tracker.tracking import kalman
from tracker.tracking.kalman import (
    KalmanFilter,
    StateSpace,
    nsa_scale,
    reupdate,
    xyah_to_xyxy,
    xywh_to_xyxy,
    xyxy_to_xyah,
    xyxy_to_xywh,
)


def _cfg(state):
    return load_config(overrides={"tracker.name": "deepsort", "tracker.kalman.state": state}).tracker.kalman


def _stds(cfg, m, state, kind):
    """Per-dimension standard deviations written out from the documented formula."""
    h = m[3]
    w = m[2]
    if kind == "process":
        wp, wv, ap, av = cfg.std_position, cfg.std_velocity, cfg.std_aspect, cfg.std_aspect_velocity
    elif kind == "init":
        wp, wv, ap, av = cfg.init_std_position, cfg.init_std_velocity, cfg.init_std_aspect, cfg.init_std_aspect_velocity
    else:
        wp, ap = cfg.std_measurement, cfg.std_aspect_measurement
    if state == "xyah":
        pos = [wp * h, wp * h, ap, wp * h]
        vel = None if kind == "measurement" else [wv * h, wv * h, av, wv * h]
    else:
        pos = [wp * w, wp * h, wp * w, wp * h]
        vel = None if kind == "measurement" else [wv * w, wv * h, wv * w, wv * h]
    return np.array(pos if vel is None else pos + vel)


@pytest.mark.parametrize("written_out", [False, True], ids=["lapack-inverse", "written-out-inverse"])
@pytest.mark.parametrize("state", ["xyah", "xywh"])
def test_matches_filterpy_over_many_steps(state, written_out, monkeypatch):
    """Both ways of inverting the innovation covariance (LAPACK for few tracks, the Cholesky written
    out over all tracks for many) give filterpy's filter."""
    monkeypatch.setattr(kalman, "WRITTEN_OUT_INVERSE_MIN", 0 if written_out else 10**9)
    rng = np.random.default_rng(1)
    cfg = _cfg(state)
    space = StateSpace(cfg)
    kf = KalmanFilter(space)
    n = 7
    boxes = rng.uniform(50, 400, (n, 2))
    boxes = np.concatenate([boxes, boxes + rng.uniform(20, 120, (n, 2))], axis=1)
    z0 = space.to_measurement(boxes)
    mean, cov = kf.initiate(z0)

    oracles = []
    for i in range(n):
        f = FilterpyKF(dim_x=8, dim_z=4)
        f.x = np.concatenate([z0[i], np.zeros(4)])
        f.P = np.diag(_stds(cfg, z0[i], state, "init") ** 2)
        f.H = np.eye(4, 8)
        oracles.append(f)

    for step in range(12):
        dt = rng.uniform(0.02, 0.5)
        mean, cov = kf.predict(mean, cov, dt)
        for f in oracles:
            f.F = np.eye(8)
            f.F[:4, 4:] = dt * np.eye(4)
            f.Q = np.diag(_stds(cfg, f.x, state, "process") ** 2 * dt)
            f.predict()
        z = space.to_measurement(boxes + rng.normal(0, 3, boxes.shape) + step * 2.0)
        mean, cov = kf.update(mean, cov, z)
        for i, f in enumerate(oracles):
            f.R = np.diag(_stds(cfg, f.x, state, "measurement") ** 2)
            f.update(z[i])
        for i, f in enumerate(oracles):
            np.testing.assert_allclose(mean[i], f.x, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(cov[i], f.P, rtol=1e-9, atol=1e-9)


def test_nsa_update_matches_filterpy_with_confidence_scaled_noise():
    """NSA (StrongSORT): filterpy's update with R times (1 - score), per track; scores outside 0..1 are clipped."""
    rng = np.random.default_rng(4)
    cfg = _cfg("xywh")
    kf = KalmanFilter(StateSpace(cfg))
    z0 = np.array([[100.0, 80.0, 30.0, 70.0], [300.0, 200.0, 50.0, 120.0], [40.0, 60.0, 10.0, 25.0]])
    mean, cov = kf.predict(*kf.initiate(z0), 0.1)
    z = z0 + rng.normal(0, 3, z0.shape)
    scores = np.array([0.9, 0.3, 1.7])  # the last as a det.txt might give it
    got_mean, got_cov = kf.update(mean, cov, z, nsa_scale(scores))
    plain_mean, _ = kf.update(mean, cov, z)
    for i, factor in enumerate([0.1, 0.7, kalman.NSA_MIN_SCALE]):
        f = FilterpyKF(dim_x=8, dim_z=4)
        f.x, f.P, f.H = mean[i].copy(), cov[i].copy(), np.eye(4, 8)
        f.R = np.diag(_stds(cfg, mean[i], "xywh", "measurement") ** 2 * factor)
        f.update(z[i])
        np.testing.assert_allclose(got_mean[i], f.x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got_cov[i], f.P, rtol=1e-9, atol=1e-9)
    # a confident detection pulls the state closer to itself than the plain update does
    assert np.abs(got_mean[0, :4] - z[0]).sum() < np.abs(plain_mean[0, :4] - z[0]).sum()


def test_reupdate_replays_the_gap_on_interpolated_observations_like_filterpy():
    """ORU (OC-SORT): from the state at the last observation, filterpy predicts and updates on the
    observations interpolated over the gap, track by track; reupdate does all tracks at once, each with
    its own gap, and uses the noise scale on the real (last) observation only."""
    cfg = _cfg("xywh")
    kf = KalmanFilter(StateSpace(cfg))
    z_from = np.array([[100.0, 80.0, 30.0, 70.0], [300.0, 200.0, 50.0, 120.0], [40.0, 60.0, 10.0, 25.0]])
    z_to = z_from + [[30.0, 6.0, 2.0, 4.0], [-20.0, 0.0, 0.0, 0.0], [5.0, 5.0, 1.0, 1.0]]
    mean, cov = kf.initiate(z_from)
    steps, dt, noise = np.array([3, 1, 5]), 0.1, np.array([0.5, 0.2, 0.3])
    got_mean, got_cov = reupdate(kf, mean, cov, z_from, z_to, steps, dt, noise)
    for i in range(3):
        f = FilterpyKF(dim_x=8, dim_z=4)
        f.x, f.P, f.H = mean[i].copy(), cov[i].copy(), np.eye(4, 8)
        f.F = np.eye(8)
        f.F[:4, 4:] = dt * np.eye(4)
        for j in range(1, steps[i] + 1):
            f.Q = np.diag(_stds(cfg, f.x, "xywh", "process") ** 2 * dt)
            f.predict()
            scale = noise[i] if j == steps[i] else 1.0
            f.R = np.diag(_stds(cfg, f.x, "xywh", "measurement") ** 2 * scale)
            f.update(z_from[i] + j / steps[i] * (z_to[i] - z_from[i]))
        np.testing.assert_allclose(got_mean[i], f.x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got_cov[i], f.P, rtol=1e-9, atol=1e-9)


def test_predict_accepts_per_track_dt_and_moves_by_velocity():
    kf = KalmanFilter(StateSpace(_cfg("xywh")))
    mean, cov = kf.initiate(np.array([[100.0, 100.0, 20.0, 40.0], [10.0, 10.0, 5.0, 10.0]]))
    mean[:, 4] = [10.0, -4.0]  # px / s in x
    new_mean, new_cov = kf.predict(mean, cov, np.array([0.5, 2.0]))
    np.testing.assert_allclose(new_mean[:, 0], [105.0, 2.0])
    assert np.all(np.diagonal(new_cov, axis1=1, axis2=2) > np.diagonal(cov, axis1=1, axis2=2)[:, :] - 1e-12)
    # the same, to the bit, as each track predicted alone with its step as a plain number
    for i, dt in enumerate([0.5, 2.0]):
        alone_mean, alone_cov = kf.predict(mean[i : i + 1], cov[i : i + 1], dt)
        np.testing.assert_array_equal(new_mean[i], alone_mean[0])
        np.testing.assert_array_equal(new_cov[i], alone_cov[0])


def test_frame_rate_independence():
    """Predicting 1 s in one step or in 30 steps gives the same mean and similar uncertainty."""
    kf = KalmanFilter(StateSpace(_cfg("xyah")))
    mean, cov = kf.initiate(np.array([[100.0, 100.0, 0.5, 80.0]]))
    mean[0, 4:6] = [30.0, 12.0]
    m1, c1 = kf.predict(mean, cov, 1.0)
    m30, c30 = mean, cov
    for _ in range(30):
        m30, c30 = kf.predict(m30, c30, 1 / 30)
    np.testing.assert_allclose(m1, m30, rtol=1e-9)
    # random-walk noise adds the same variance however the second is split
    np.testing.assert_allclose(np.diag(c1[0])[4:], np.diag(c30[0])[4:], rtol=1e-9)


def test_gating_distance_matches_direct_formula():
    rng = np.random.default_rng(3)
    kf = KalmanFilter(StateSpace(_cfg("xyah")))
    mean, cov = kf.initiate(np.array([[100.0, 100.0, 0.5, 80.0], [300.0, 200.0, 0.4, 120.0]]))
    mean, cov = kf.predict(mean, cov, 0.1)
    meas = mean[:, :4][[0, 1, 0]] + rng.normal(0, 2, (3, 4))
    got = kf.gating_distance(mean, cov, meas)
    z, s = kf.project(mean, cov)
    for i in range(2):
        for j in range(3):
            d = meas[j] - z[i]
            assert got[i, j] == pytest.approx(d @ np.linalg.inv(s[i]) @ d, rel=1e-9)


def test_box_conversions_round_trip():
    boxes = np.array([[10.0, 20.0, 50.0, 100.0], [0.0, 0.0, 1.0, 3.0]])
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(boxes)), boxes)
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes)
    np.testing.assert_allclose(xyxy_to_xyah(boxes)[0], [30.0, 60.0, 0.5, 80.0])


def test_empty_inputs():
    kf = KalmanFilter(StateSpace(_cfg("xywh")))
    mean, cov = kf.initiate(np.zeros((0, 4)))
    assert mean.shape == (0, 8) and cov.shape == (0, 8, 8)
    m, c = kf.predict(mean, cov, 0.1)
    assert m.shape == (0, 8)
    assert kf.gating_distance(mean, cov, np.ones((3, 4))).shape == (0, 3)


@pytest.mark.parametrize("state", ["xywh", "xyah"])
@pytest.mark.parametrize("fps", [7.0, 30.0])
def test_per_frame_noise_matches_a_per_frame_filterpy_filter(fps, state):
    """``kalman.noise_unit: frame`` (the paper presets): stepped 1 / fps seconds at a time, the filter is the
    papers' per-frame filter (filterpy, F with one frame's step, Q and P0 from the per-frame stds, velocities
    per frame), once our per-second velocities are divided by fps."""
    cfg = load_config(overrides={"tracker.name": "botsort", "tracker.kalman.noise_unit": "frame",
                                 "tracker.kalman.std_velocity": 0.00625, "tracker.kalman.init_std_velocity": 0.0625,
                                 "tracker.kalman.std_position": 0.05, "tracker.kalman.state": state,
                                 "tracker.kalman.std_aspect": 0.01, "tracker.kalman.std_aspect_velocity": 1e-5,
                                 "tracker.kalman.init_std_aspect": 0.01, "tracker.kalman.init_std_aspect_velocity": 1e-5,
                                 }).tracker.kalman  # fmt: skip
    kf = KalmanFilter(StateSpace(kalman.per_second(cfg, fps)))
    rng = np.random.default_rng(7)
    z0 = np.array([[100.0, 80.0, 30.0, 70.0], [300.0, 200.0, 50.0, 120.0]])
    mean, cov = kf.initiate(z0)
    to_frames = np.diag([1.0] * 4 + [1.0 / fps] * 4)  # per-second velocities -> per frame
    oracles = []
    for z in z0:
        f = FilterpyKF(dim_x=8, dim_z=4)
        f.x, f.H, f.F = np.concatenate([z, np.zeros(4)]), np.eye(4, 8), np.eye(8)
        f.F[:4, 4:] = np.eye(4)  # one frame
        f.P = np.diag(_stds(cfg, z, state, "init") ** 2)
        oracles.append(f)
    for step in range(10):
        mean, cov = kf.predict(mean, cov, 1.0 / fps)
        z = z0 + step * np.array([3.0, 1.0, 0.2, 0.4]) + rng.normal(0, 2, z0.shape)
        mean, cov = kf.update(mean, cov, z)
        for i, f in enumerate(oracles):
            f.Q = np.diag(_stds(cfg, f.x, state, "process") ** 2)
            f.predict()
            f.R = np.diag(_stds(cfg, f.x, state, "measurement") ** 2)
            f.update(z[i])
            np.testing.assert_allclose(to_frames @ mean[i], f.x, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(to_frames @ cov[i] @ to_frames, f.P, rtol=1e-9, atol=1e-9)


def test_per_second_noise_is_left_as_it_is():
    cfg = _cfg("xywh")
    assert cfg.noise_unit == "second" and kalman.per_second(cfg, 7.0) is cfg
