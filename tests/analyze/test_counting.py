"""Counting: exact line crossings (direction, hysteresis, once per direction), zone occupancy, files, config."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.config import CountingConfig, load_config
from tracker.analyze.counting import Counter, anchor_points, format_report, points_in_polygon, signed_distances
from tracker.errors import ConfigError
from tracker.io.drawing import COUNT_LINE_COLOR, ZONE_COLOR
from tracker.io.readers import read_counts, read_crossings
from tracker.io.sinks import COUNTS_HEADER, CountsSink, open_sinks
from tracker.io.sources import SourceInfo
from tracker.structures import Detections, FrameResult, Tracks

CLASSES = ["person", "car"]
PERSON, CAR = 0, 1
BOX_W, BOX_H = 10.0, 30.0


def counting(lines=(), zones=(), hysteresis=5.0, anchor="bottom_center") -> CountingConfig:
    return CountingConfig(
        enabled=True, anchor=anchor, hysteresis_px=hysteresis,
        lines=[{"name": n, "points": p} for n, p in lines], zones=[{"name": n, "polygon": p} for n, p in zones],
    )


def feet_box(x: float, y: float) -> list[float]:
    """A box whose bottom-centre is (x, y)."""
    return [x - BOX_W / 2, y - BOX_H, x + BOX_W / 2, y]


def frame_tracks(points: dict[int, tuple[float, float, int]], predicted=()) -> Tracks:
    """Tracks of one frame from {track_id: (x, y, class_id)} feet positions; ids in ``predicted`` are unmatched."""
    ids = sorted(points)
    n = len(ids)
    return Tracks(
        boxes=np.array([feet_box(*points[i][:2]) for i in ids], np.float32).reshape(n, 4),
        scores=np.full(n, 0.9, np.float32),
        class_ids=np.array([points[i][2] for i in ids], np.int32),
        track_ids=np.array(ids, np.int64),
        det_index=np.array([-1 if i in predicted else k for k, i in enumerate(ids)], np.int64),
    )


def scene(paths: dict[int, tuple[int, list]], predicted: dict[int, set[int]] | None = None) -> list[Tracks]:
    """Per-frame Tracks from {track_id: (class_id, [(x, y) or None per frame])}."""
    n_frames = max(len(p) for _, p in paths.values())
    frames = []
    for f in range(n_frames):
        points = {tid: (*p[f], cls) for tid, (cls, p) in paths.items() if f < len(p) and p[f] is not None}
        frames.append(frame_tracks(points, predicted=(predicted or {}).get(f, set())))
    return frames


def vertical(x: float, ys) -> list:
    return [(x, y) for y in ys]


# A horizontal line y = 100 from x = 0 to x = 200, pointing right: its right side on screen (the "in" side) is below.
DOOR = ("door", [[0, 100], [200, 100]])


def test_crossings_are_counted_exactly_once_per_direction():
    paths = {
        1: (PERSON, vertical(50, [60, 80, 95, 110, 130])),  # down: in
        2: (PERSON, vertical(60, [140, 120, 104, 90, 70])),  # up: out
        3: (CAR, vertical(70, [50, 90, 120, 150])),  # down: in (a car)
        4: (PERSON, vertical(80, [80, 98, 102, 97, 103, 99, 101, 120])),  # wiggles within +-3 px, then in: once
        5: (PERSON, vertical(90, [70, 130, 70, 130, 70])),  # in, out, in, out: each direction once
        6: (PERSON, vertical(250, [60, 80, 100, 120, 140])),  # beyond the end of the line: never
        7: (PERSON, vertical(100, [40, 160])),  # one big jump across: in
        8: (PERSON, vertical(110, [90, 97])),  # stays above, touching the hysteresis band: never
        9: (PERSON, [(190, 90), (230, 95), (260, 110)]),  # around the end of the line: never
    }
    counter = Counter(counting(lines=[DOOR]), CLASSES)
    events = []
    for f, tracks in enumerate(scene(paths)):
        c = counter.update(tracks)
        events += [(f, int(t), int(d)) for t, d in zip(c.track_ids, c.direction)]
    in_, out = counter.line_counts[0]
    assert in_.tolist() == [4, 1]  # person: tracks 1, 4, 5, 7; car: track 3
    assert out.tolist() == [2, 0]  # person: tracks 2 and 5
    assert sorted(events) == sorted([(3, 1, 0), (3, 2, 1), (2, 3, 0), (7, 4, 0), (1, 5, 0), (2, 5, 1), (1, 7, 0)])
    assert counter.totals()["door"] == {"in": 5, "out": 2}


def test_without_hysteresis_a_wiggle_counts_in_and_out_once_each():
    counter = Counter(counting(lines=[DOOR], hysteresis=0.0), CLASSES)
    for tracks in scene({4: (PERSON, vertical(80, [80, 98, 102, 97, 103, 99, 101, 120]))}):
        counter.update(tracks)
    assert counter.line_counts[0, :, PERSON].tolist() == [1, 1]


def test_in_is_from_the_left_to_the_right_of_the_directed_line():
    # a line pointing down the screen: facing down, the left side is +x (east) and the right side is -x
    down = ("down", [[100, 0], [100, 200]])
    up = ("up", [[120, 200], [120, 0]])
    counter = Counter(counting(lines=[down, up]), CLASSES)
    for tracks in scene({1: (PERSON, [(150, 100), (80, 100)])}):  # walks west across both lines
        counter.update(tracks)
    assert counter.totals() == {"down": {"in": 1, "out": 0}, "up": {"in": 0, "out": 1}}
    d = signed_distances(np.array([[150.0, 100.0], [50.0, 100.0]]), np.array(down[1], np.float64)[None])
    np.testing.assert_allclose(d[:, 0], [-50.0, 50.0])  # left negative, right positive


def test_a_track_lost_while_crossing_counts_when_seen_on_the_other_side():
    paths = {1: (PERSON, vertical(50, [60, 90, 100, 110, 130, 140]))}
    counter = Counter(counting(lines=[DOOR]), CLASSES)
    crossed_at = []
    for f, tracks in enumerate(scene(paths, predicted={2: {1}, 3: {1}, 4: {1}})):  # predictions only at 2-4
        if len(counter.update(tracks)):
            crossed_at.append(f)
    assert crossed_at == [5] and counter.totals()["door"] == {"in": 1, "out": 0}


def test_zone_occupancy_per_frame_and_class_is_exact():
    square = ("square", [[0, 0], [100, 0], [100, 100], [0, 100]])
    notch = ("notch", [[200, 0], [300, 0], [300, 100], [250, 50], [200, 100]])  # concave: (250, 90) is outside
    paths = {
        1: (PERSON, [(50, 50), (150, 50), (50, 50), None]),
        2: (PERSON, [(10, 90), (20, 90), (30, 90), (40, 90)]),
        3: (CAR, [(150, 50), (60, 60), (60, 60), (60, 60)]),
        4: (PERSON, [(250, 90), (250, 20), (210, 80), (290, 70)]),
    }
    counter = Counter(counting(zones=[square, notch]), CLASSES)
    occupancy = []
    for tracks in scene(paths):
        counter.update(tracks)
        occupancy.append(counter.occupancy.copy())
    np.testing.assert_array_equal(np.array(occupancy)[:, 0], [[2, 0], [1, 1], [2, 1], [1, 1]])  # square
    np.testing.assert_array_equal(np.array(occupancy)[:, 1], [[0, 0], [1, 0], [1, 0], [1, 0]])  # notch


def test_zone_counts_each_track_entering_once_and_its_peak():
    square = ("square", [[0, 0], [100, 0], [100, 100], [0, 100]])
    paths = {
        1: (PERSON, [(50, 50), (150, 50), (50, 50), (50, 50)]),  # in, out, back in: entered once
        2: (PERSON, [(150, 50), (20, 90), (30, 90), None]),
        3: (CAR, [(150, 50), (60, 60), (60, 60), (160, 60)]),
        4: (PERSON, [(10, 10), None, None, None]),
    }
    counter = Counter(counting(zones=[square], lines=[DOOR]), CLASSES)
    for tracks in scene(paths):
        counter.update(tracks)
    assert counter.entered[0].tolist() == [3, 1]  # person: tracks 1, 2, 4; car: track 3
    assert counter.totals()["square"] == {"occupancy": 1, "entered": 4, "peak": 3}  # peak: frame 2 (tracks 1, 2, 3)
    report = counter.report()
    assert list(report) == ["door", "square"] and report["square"]["kind"] == "zone"
    assert report["square"]["classes"] == {
        "person": {"occupancy": 1, "entered": 3}, "car": {"occupancy": 0, "entered": 1},
    }
    assert format_report(report) == [
        "line door: 0 in, 0 out (person 0 in, 0 out; car 0 in, 0 out)",
        "zone square: 4 entered, at most 3 at once, 1 inside at the end (person 3 entered; car 1 entered)",
    ]


def test_anchor_choice_decides_what_is_inside():
    zone = ("zone", [[0, 0], [100, 0], [100, 100], [0, 100]])
    tracks = frame_tracks({1: (50, 110, PERSON)})  # feet below the zone, centre (50, 95) inside it
    feet = Counter(counting(zones=[zone], anchor="bottom_center"), CLASSES)
    centre = Counter(counting(zones=[zone], anchor="center"), CLASSES)
    feet.update(tracks)
    centre.update(tracks)
    assert feet.occupancy.sum() == 0 and centre.occupancy.sum() == 1
    np.testing.assert_allclose(anchor_points(tracks.boxes, "center"), [[50, 95]])


def test_points_in_polygon_matches_opencv():
    import cv2

    rng = np.random.default_rng(0)
    polygon = np.array([[10, 10], [90, 20], [60, 50], [95, 90], [20, 80], [40, 45]], np.float64)
    points = rng.uniform(0, 100, (2000, 2))
    ours = points_in_polygon(points, polygon)
    ref = np.array([cv2.pointPolygonTest(polygon.astype(np.float32), tuple(p), True) for p in points.tolist()])
    away = np.abs(ref) > 1e-6  # points on an edge may go either way
    np.testing.assert_array_equal(ours[away], ref[away] > 0)
    assert not points_in_polygon(np.array([[np.nan, 50.0]]), polygon)[0]


def reference_counts(paths: dict[int, list], line: np.ndarray, h: float) -> tuple[int, int]:
    """Loop-per-track reference of the counting rules, for cross-checking the vectorised counter."""
    a, b = line
    d = b - a
    cross = lambda u, v: u[0] * v[1] - u[1] * v[0]  # noqa: E731
    ins = outs = 0
    for pts in paths.values():
        side, last, done = 0, None, set()
        for p in pts:
            s = cross(d, p - a) / np.hypot(*d)
            if abs(s) < h or s == 0:
                continue
            new = 1 if s > 0 else -1
            if side and new != side:
                m = p - last
                if cross(m, a - last) * cross(m, b - last) <= 0:
                    direction = "in" if new > 0 else "out"
                    if direction not in done:
                        done.add(direction)
                        ins += direction == "in"
                        outs += direction == "out"
            side, last = new, p
    return ins, outs


def test_vectorised_counter_matches_a_per_track_reference_on_random_walks():
    rng = np.random.default_rng(3)
    n_tracks, n_frames = 60, 80
    line = np.array([[20.0, 35.0], [80.0, 65.0]])
    starts = rng.uniform(0, 100, (n_tracks, 2))
    steps = rng.normal(0, 4, (n_frames, n_tracks, 2))
    walk = starts + np.cumsum(steps, axis=0)  # (F,T,2)
    counter = Counter(counting(lines=[("l", line.tolist())], hysteresis=2.0), CLASSES)
    for f in range(n_frames):
        alive = rng.random(n_tracks) > 0.1  # tracks miss frames now and then
        ids = np.flatnonzero(alive)
        counter.update(frame_tracks({int(i) + 1: (*walk[f, i], PERSON) for i in ids}))
    in_, out = counter.line_counts[0, :, PERSON]
    # replay the same frames for the reference (same random draws for the gaps)
    rng = np.random.default_rng(3)
    rng.uniform(0, 100, (n_tracks, 2))
    rng.normal(0, 4, (n_frames, n_tracks, 2))
    seen: dict[int, list] = {i: [] for i in range(n_tracks)}
    for f in range(n_frames):
        alive = rng.random(n_tracks) > 0.1
        for i in np.flatnonzero(alive):
            seen[int(i)].append(walk[f, i])
    want = reference_counts(seen, line, 2.0)
    assert (in_, out) == want and in_ + out > 10  # the walks cross often


def test_counts_files_hold_cumulative_counts_and_crossings(tmp_path):
    zone = ("low", [[0, 100], [200, 100], [200, 200], [0, 200]])
    cfg = counting(lines=[DOOR], zones=[zone])
    paths = {1: (PERSON, vertical(50, [60, 80, 130, 150])), 2: (CAR, [None, None, (60, 150), (60, 80)])}
    with CountsSink(tmp_path, cfg, CLASSES, (640, 480)) as sink:
        for f, tracks in enumerate(scene(paths)):
            sink.write(FrameResult(frame_index=f, time_s=f / 10, tracks=tracks, detections=Detections.empty()))
    assert sorted(p.name for p in sink.paths) == ["counts.csv", "crossings.csv"]
    assert (tmp_path / "counts.csv").read_text().splitlines()[0] == ",".join(COUNTS_HEADER)
    c = read_counts(tmp_path / "counts.csv")
    rows = list(zip(c["frame"].tolist(), c["name"].tolist(), c["class_name"].tolist(), c["in"].tolist(),
                    c["out"].tolist(), c["occupancy"].tolist()))
    assert rows == [
        (0, "door", "person", 0, 0, -1), (0, "low", "person", -1, -1, 0),
        (1, "door", "person", 0, 0, -1), (1, "low", "person", -1, -1, 0),
        (2, "door", "person", 1, 0, -1), (2, "door", "car", 0, 0, -1),  # the car appears: its rows start
        (2, "low", "person", -1, -1, 1), (2, "low", "car", -1, -1, 1),
        (3, "door", "person", 1, 0, -1), (3, "door", "car", 0, 1, -1),
        (3, "low", "person", -1, -1, 1), (3, "low", "car", -1, -1, 0),
    ]
    x = read_crossings(tmp_path / "crossings.csv")
    assert list(zip(x["frame"].tolist(), x["line"].tolist(), x["track_id"].tolist(), x["class_name"].tolist(),
                    x["direction"].tolist())) == [(2, "door", 1, "person", "in"), (3, "door", 2, "car", "out")]


def test_open_sinks_adds_counting_and_draws_lines_and_zones(tmp_path):
    cfg = load_config(overrides={
        "counting.enabled": True, "counting.lines": [{"name": "door", "points": [[0, 40], [300, 40]]}],
        "counting.zones": [{"name": "z", "polygon": [[10, 50], [60, 50], [60, 85], [10, 85]]}],
    })
    info = SourceInfo(uri="c.mp4", kind="file", name="c", fps=10.0, width=320, height=240, frame_count=3,
                      is_live=False)
    out = cfg.output.model_copy(update=dict(video=True, codec="MJPG", show=False))
    frames = []

    class Grab:  # records the annotated frames the image sinks get
        path = None

        def write_image(self, image, time_s=None):
            frames.append(image)

        def close(self):
            pass

    with open_sinks(tmp_path, out, info, CLASSES, counting=cfg.counting) as sinks:
        sinks.add_image(Grab())
        image = np.zeros((240, 320, 3), np.uint8)
        for f, tracks in enumerate(scene({1: (PERSON, vertical(250, [20, 70, 75]))})):  # crosses at x = 250
            sinks.write(FrameResult(frame_index=f, time_s=f / 10, tracks=tracks, detections=Detections.empty(),
                                    image=image))
    assert {"counts.csv", "crossings.csv"} <= {p.name for p in sinks.paths}
    last = frames[-1]
    on_line = (last[40, :200] == COUNT_LINE_COLOR).all(axis=1)  # the line's row, left of the track's label
    on_zone_edge = (last[50:86, 60] == ZONE_COLOR).all(axis=1)  # the zone's right edge
    assert on_line.mean() > 0.8 and on_zone_edge.mean() > 0.8
    assert not image.any()  # the source frame is untouched
    assert read_crossings(tmp_path / "crossings.csv")["direction"].tolist() == ["in"]


@pytest.mark.parametrize(
    "override, message",
    [
        ({"counting.lines": [{"name": "a", "points": [[0, 0]]}]}, "counting.lines.0.points"),
        ({"counting.lines": [{"name": "a", "points": [[0, 0], [1, 1], [2, 2]]}]}, "counting.lines.0.points"),
        ({"counting.lines": [{"name": "a", "points": [[5, 5], [5, 5]]}]}, "identical points"),
        ({"counting.zones": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]}, "counting.zones.0.polygon"),
        ({"counting.zones": [{"name": "z", "polygon": [[0, 0], [1, 1], [1]]}]}, "counting.zones.0.polygon"),
        ({"counting.zones": [{"name": "a", "polygon": [[0, 0], [9, 0], [9, 9]]}],
          "counting.lines": [{"name": "a", "points": [[0, 0], [1, 1]]}]}, "'a' repeats"),
        ({"counting.enabled": True}, "no lines or zones"),
        ({"counting.anchor": "top"}, "counting.anchor"),
        ({"counting.hysteresis_px": -1}, "counting.hysteresis_px"),
    ],
)
def test_bad_counting_config_names_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(overrides=override)
    assert err.value.exit_code == 2 and "\n" not in str(err.value)


def test_counting_is_off_by_default_and_a_user_yaml_turns_it_on(tmp_path):
    assert not load_config().counting.enabled
    user = tmp_path / "count.yaml"
    user.write_text("counting:\n  enabled: true\n  lines:\n    - {name: door, points: [[0, 400], [768, 400]]}\n")
    cfg = load_config(user)
    assert cfg.counting.enabled and cfg.counting.lines[0].points == [(0.0, 400.0), (768.0, 400.0)]
    assert cfg.counting.anchor == "bottom_center"  # the rest comes from configs/default.yaml


def test_tracker_track_counts_a_walker_crossing_a_line(tmp_path):
    """End to end through the CLI: a counting section in the user's YAML gives counts.csv and crossings.csv."""
    import cv2

    from tracker.commands import main

    size, frames, box = (160, 120), 30, (20, 30)
    writer = cv2.VideoWriter(str(tmp_path / "walk.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    det_rows = []
    for i in range(frames):  # a box walking right, its bottom centre from x=20 to x=107
        x, y = 10 + 3 * i, 40
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[y : y + box[1], x : x + box[0]] = 255
        writer.write(image)
        det_rows.append(f"{i + 1},-1,{x},{y},{box[0]},{box[1]},0.9,-1,-1,-1")
    writer.release()
    (tmp_path / "det.txt").write_text("\n".join(det_rows) + "\n")
    # directed bottom -> top: its left is the screen's left, so walking right is "in"
    (tmp_path / "count.yaml").write_text(
        "counting:\n  enabled: true\n  lines: [{name: gate, points: [[60, 120], [60, 0]]}]\n"
        "  zones: [{name: right_half, polygon: [[80, 0], [160, 0], [160, 120], [80, 120]]}]\n"
    )
    out = tmp_path / "run"
    code = main(["track", str(tmp_path / "walk.avi"), "--out", str(out), "--config", str(tmp_path / "count.yaml"),
                 "--detector", "mot", "--set", f"detector.det_file={tmp_path / 'det.txt'}", "--appearance", "none",
                 "--quiet", "--no-video"])  # fmt: skip
    assert code == 0
    crossings = read_crossings(out / "crossings.csv")
    assert crossings["line"].tolist() == ["gate"] and crossings["direction"].tolist() == ["in"]
    # counted on the frame the bottom centre (x = 20 + 3 * frame) gets hysteresis_px (5) past x=60
    assert 60 + 5 <= 20 + 3 * crossings["frame"][0] <= 60 + 5 + 3
    counts = read_counts(out / "counts.csv")
    last = counts["frame"] == counts["frame"].max()
    gate = last & (counts["name"] == "gate")
    assert counts["in"][gate].tolist() == [1] and counts["out"][gate].tolist() == [0]
    zone = counts["name"] == "right_half"
    inside = counts["frame"][zone & (counts["occupancy"] == 1)]
    assert inside.min() * 3 + 20 >= 80 and counts["occupancy"][zone & last].tolist() == [1]
