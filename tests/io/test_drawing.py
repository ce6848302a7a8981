"""Annotator: boxes, labels, trails, stable colours and bounded trail memory."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tracker.io.drawing import (
    FONT,
    HIDDEN,
    LABEL_PAD,
    LABEL_SCALES,
    Annotator,
    _font_scale,
    text_colors,
    track_colors,
)
from tracker.structures import Tracks

BACKGROUND = 128
H, W = 240, 320


def trail_ids(annotator: Annotator) -> list[int]:
    """Track ids whose trail the annotator currently remembers."""
    return list(annotator._trails)


def canvas() -> np.ndarray:
    return np.full((H, W, 3), BACKGROUND, np.uint8)


def tracks(boxes, ids, scores=None, class_ids=None) -> Tracks:
    n = len(ids)
    return Tracks(
        boxes=np.asarray(boxes, np.float32).reshape(n, 4),
        scores=np.full(n, 0.9, np.float32) if scores is None else scores,
        class_ids=np.zeros(n, np.int32) if class_ids is None else class_ids,
        track_ids=np.asarray(ids, np.int64),
        det_index=np.arange(n),
    )


def test_draw_marks_box_borders_in_the_track_colour_and_keeps_the_input():
    image = canvas()
    annotator = Annotator(trail_length=10, line_thickness=2)
    out = annotator.draw(image, tracks([[100, 120, 180, 220]], [7]), ["person"])
    color = track_colors(np.array([7]))[0]
    assert np.all(image == BACKGROUND)  # input untouched
    assert out.shape == image.shape and out.dtype == np.uint8
    for y, x in [(170, 100), (170, 180), (220, 140)]:  # left, right and bottom edges
        np.testing.assert_array_equal(out[y, x], color)
    np.testing.assert_array_equal(out[170, 140], [BACKGROUND] * 3)  # box interior is not filled
    np.testing.assert_array_equal(out[110, 102], color)  # label background sits above the box


LABEL_PADDING_ROW = 1  # a row or column inside a label's padding, where no glyph is drawn


def test_a_label_that_would_cover_another_goes_inside_its_box():
    """Two people side by side: the second label moves just inside its box instead of over the first."""
    first, second = [100, 120, 200, 220], [130, 126, 230, 226]  # labels above them would overlap
    out = Annotator(trail_length=0, line_thickness=2).draw(canvas(), tracks([first, second], [7, 8]), ["person"])
    color_7, color_8 = track_colors(np.array([7, 8]))
    pad = LABEL_PADDING_ROW
    np.testing.assert_array_equal(out[first[1] - pad - 1, 160], color_7)  # the first label's bottom padding
    np.testing.assert_array_equal(out[second[1] + pad, second[0] + pad], color_8)  # the second, inside its box
    alone = Annotator(trail_length=0, line_thickness=2).draw(canvas(), tracks([second], [8]), ["person"])
    np.testing.assert_array_equal(alone[second[1] - pad - 1, second[0] + pad], color_8)  # alone: above its box


def test_no_box_line_crosses_a_label():
    """Labels are drawn after every box: box 8's left edge runs through where track 7's label goes."""
    first, second = [100, 40, 200, 140], [150, 2, 300, 100]  # box 8 at the top edge: its label goes inside
    out = Annotator(trail_length=0, line_thickness=2).draw(canvas(), tracks([first, second], [7, 8]), ["person"])
    color_7 = track_colors(np.array([7]))[0]
    np.testing.assert_array_equal(out[first[1] - LABEL_PADDING_ROW - 1, second[0]], color_7)


def test_colours_are_stable_and_differ_between_ids():
    ids = np.arange(1, 21)
    first = track_colors(ids)
    np.testing.assert_array_equal(first, track_colors(ids))
    np.testing.assert_array_equal(first[4], track_colors(np.array([5]))[0])  # independent of the batch
    assert len({tuple(c) for c in first.tolist()}) == len(ids)
    box = [[40, 40, 120, 200]]
    a = Annotator(10, 2).draw(canvas(), tracks(box, [3]), ["person"])
    b = Annotator(10, 2).draw(canvas(), tracks(box, [3]), ["person"])
    c = Annotator(10, 2).draw(canvas(), tracks(box, [4]), ["person"])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[120, 40], c[120, 40])


def test_label_text_contrasts_with_its_background():
    ink = text_colors(np.array([[255, 255, 255], [0, 0, 0], [40, 230, 230], [200, 30, 30]], np.uint8))
    np.testing.assert_array_equal(ink, [[0, 0, 0], [255, 255, 255], [0, 0, 0], [255, 255, 255]])


def test_trail_follows_bottom_centres_and_fades():
    annotator = Annotator(trail_length=30, line_thickness=2)
    for i in range(10):  # moves right 10 px a frame
        out = annotator.draw(canvas(), tracks([[20 + 10 * i, 50, 60 + 10 * i, 150]], [1]), ["person"])
    points = annotator.trail(1)
    assert points == [(40 + 10 * i, 150) for i in range(10)]
    # the trail is drawn left of the current box, along y = 150, darker than the track colour at its old end
    old_end = out[150, 45].astype(int)
    assert not np.array_equal(old_end, [BACKGROUND] * 3)
    assert old_end.sum() < track_colors(np.array([1]))[0].astype(int).sum()


def test_trail_memory_is_bounded_and_freed():
    length = 5
    annotator = Annotator(trail_length=length, line_thickness=1)
    for frame in range(20):
        annotator.draw(canvas(), tracks([[10, 10, 50, 50 + frame]], [1]), ["person"], frame_index=frame)
    assert len(annotator.trail(1)) == length
    for frame in range(20, 20 + length + 1):  # track 1 gone, a new track every frame
        annotator.draw(canvas(), tracks([[10, 10, 50, 50]], [100 + frame]), ["person"], frame_index=frame)
    assert 1 not in trail_ids(annotator)
    assert len(trail_ids(annotator)) <= length + 1
    for frame in range(100, 200):  # many short-lived tracks never pile up
        annotator.draw(canvas(), tracks([[10, 10, 50, 50]], [frame]), ["person"], frame_index=frame)
    assert len(trail_ids(annotator)) <= length + 1


def test_no_trail_memory_when_trails_are_off():
    annotator = Annotator(trail_length=0, line_thickness=1)
    for frame in range(5):
        annotator.draw(canvas(), tracks([[10, 10, 50, 50]], [frame % 2]), ["person"])
    assert trail_ids(annotator) == []


def test_info_line_and_odd_inputs():
    empty = Tracks(
        boxes=np.zeros((0, 4), np.float32), scores=np.zeros(0, np.float32), class_ids=np.zeros(0, np.int32)
    )
    out = Annotator(5, 2).draw(canvas(), empty, [], frame_index=3, time_s=0.5, fps=12.5)
    assert not np.all(out[:12, :60] == BACKGROUND)  # info overlay in the top-left corner
    odd = tracks(
        [[np.nan, 0, 10, 10], [-1e9, -1e9, 1e9, 1e9], [300, 220, 400, 300]],
        [1, 2, 3],
        class_ids=np.array([0, 99, 1], np.int32),  # 99: no name, drawn as its number
    )
    out = Annotator(5, 2).draw(canvas(), odd, ["person", "car"])
    assert out.shape == (H, W, 3)
    assert not np.array_equal(out[230, 300], [BACKGROUND] * 3)  # box partly outside the frame is drawn


@pytest.mark.parametrize("method", ["pixelate", "gaussian"])
def test_blur_changes_pixels_inside_the_blurred_class_boxes_only(method):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # texture, so any blur shows
    person, car = [40.3, 50.6, 100.2, 180.7], [180, 60, 260, 140]
    scene = tracks([person, car], [1, 2], class_ids=np.array([0, 1], np.int32))
    plain = Annotator(0, 2).draw(image, scene, ["person", "car"])
    blurred = Annotator(0, 2, blur_classes=["person"], blur_method=method).draw(image, scene, ["person", "car"])
    changed = np.any(plain != blurred, axis=2)
    inside = np.zeros((H, W), bool)
    inside[50:181, 40:101] = True  # the person box widened to whole pixels
    assert not changed[~inside].any()  # nothing outside the person box, the car box included
    assert changed[inside].mean() > 0.5  # most of the person's pixels are hidden
    box = blurred[60:170, 50:90].astype(float)
    assert box.std() < 0.7 * image[60:170, 50:90].std()  # detail is gone, not just shifted


def test_blur_skips_boxes_outside_or_invalid():
    image = np.full((H, W, 3), 77, np.uint8)
    image[::2] = 200
    odd = tracks([[np.nan, 0, 10, 10], [-50, -50, -10, -10], [W + 5, 0, W + 50, 40]], [1, 2, 3])
    out = Annotator(0, 2, blur_classes=["person"]).draw(image, odd, ["person"])
    np.testing.assert_array_equal(out[H // 2:], image[H // 2:])  # below the info line nothing changed
    with pytest.raises(ValueError, match="blur method"):
        Annotator(0, 2, blur_method="smear")


def test_info_line_counts_classes_when_there_are_several():
    from tracker.io.drawing import Annotator as A

    assert A._class_counts(np.array([0, 0, 1], np.int32), ["person", "car"]) == "(2 person, 1 car)"
    assert A._class_counts(np.array([0, 0], np.int32), ["person", "car"]) == ""


# labels in crowded frames: every ID stays readable ----------------------------------------------------------

READABLE_RMS = 30.0  # an ID is readable where its rendering matches the frame this closely (grey levels, RMS)


def gt_frames(gt_path, n_most_crowded: int | None = None) -> list[tuple[int, Tracks]]:
    """(frame, Tracks of its ground-truth people) of a MOTChallenge gt.txt; the most crowded frames when asked."""
    gt = np.loadtxt(gt_path, delimiter=",", ndmin=2)
    people = gt[:, 6] != 0  # MOTChallenge: conf 0 rows are ignored
    if gt.shape[1] == 9:  # MOT16/17: then class (1: pedestrian) and visibility; MOT15: world coordinates
        people &= gt[:, 7] == 1
    gt = gt[people]
    frames, counts = np.unique(gt[:, 0].astype(int), return_counts=True)
    if n_most_crowded is not None:
        frames = np.sort(frames[np.argsort(-counts, kind="stable")[:n_most_crowded]])
    out = []
    for f in frames.tolist():
        g = gt[gt[:, 0] == f]
        boxes = g[:, 2:6].copy()
        boxes[:, 2:] += boxes[:, :2]
        out.append((f, tracks(boxes, g[:, 1].astype(np.int64), scores=np.full(len(g), 0.87, np.float32))))
    return out


def unreadable_ids(out: np.ndarray, frame_tracks: Tracks) -> list[int]:
    """IDs of ``frame_tracks`` whose ``#id``, in its label's colours at any label size, is nowhere near its box."""
    scale = _font_scale(out)
    colors = track_colors(frame_tracks.track_ids)
    hidden = []
    for tid, box, color, ink in zip(frame_tracks.track_ids.tolist(), frame_tracks.boxes, colors, text_colors(colors)):
        text, best = f"#{tid}", np.inf
        for size in scale * np.asarray(LABEL_SCALES):
            (w, h), base = cv2.getTextSize(text, FONT, size, 1)
            patch = np.empty((h + base + 2, w + 2, 3), np.uint8)
            patch[:] = color
            cv2.putText(patch, text, (1, 1 + h), FONT, size, tuple(int(v) for v in ink), 1, cv2.LINE_AA)
            # a label sits above, inside or below its box, at its left or right edge, pushed into the frame
            label_w = cv2.getTextSize(f"person {text} 0.00", FONT, size, 1)[0][0] + 2 * LABEL_PAD
            reach = np.array([label_w, 2 * patch.shape[0] + 2 * LABEL_PAD])
            x1, y1 = np.clip(box[:2] - reach, 0, None).astype(int)
            x2, y2 = np.minimum(np.maximum(box[2:] + reach, reach), [out.shape[1], out.shape[0]]).astype(int)
            roi = out[y1:y2, x1:x2]
            if roi.shape[0] >= patch.shape[0] and roi.shape[1] >= patch.shape[1]:
                best = min(best, np.sqrt(cv2.matchTemplate(roi, patch, cv2.TM_SQDIFF).min() / patch.size))
        if best > READABLE_RMS:
            hidden.append(tid)
    return hidden


def crowded_sequences():
    from conftest import SAMPLE_SEQ, SHARED

    yield pytest.param(SAMPLE_SEQ / "gt" / "gt.txt", (768, 576), 30, id="sample")
    for name, size in [("MOT17-mini/train/MOT17-04-FRCNN", (1920, 1080)), ("MOT17-mini/train/MOT17-02-FRCNN",
                       (1920, 1080)), ("MOT15/TUD-Campus", (640, 480))]:  # fmt: skip
        path = SHARED / name / "gt" / "gt.txt"
        yield pytest.param(path, size, 2 if "TUD" in name else 1, id=name.split("/")[-1],
                           marks=pytest.mark.skipif(not path.is_file(), reason=f"shared data {name} not found"))


@pytest.mark.parametrize("gt_path, size, n_frames", crowded_sequences())
def test_no_label_hides_another_id_in_crowded_frames(gt_path, size, n_frames):
    annotator = Annotator(trail_length=0, line_thickness=2)
    hidden = {}
    frames = gt_frames(gt_path, n_frames)
    assert frames and max(len(t) for _, t in frames) >= 6  # crowded
    for f, frame_tracks in frames:
        out = annotator.draw(np.full((size[1], size[0], 3), 90, np.uint8), frame_tracks, ["person"], frame_index=f)
        missing = unreadable_ids(out, frame_tracks)
        if missing:
            hidden[f] = missing
    assert hidden == {}


def test_labels_shrink_then_show_the_id_alone_before_hiding():
    """Sixteen people in a row, 18 pixels apart: full labels cannot all fit above, inside or below them."""
    crowd = tracks([[4 + 18 * i, 60, 22 + 18 * i, 200] for i in range(16)], list(range(101, 117)))
    annotator = Annotator(trail_length=0, line_thickness=2)
    out = annotator.draw(canvas(), crowd, ["person"])
    layout = annotator.last_layout
    assert (layout.choice != HIDDEN).all()  # everyone keeps a label
    assert unreadable_ids(out, crowd) == []
    shown = list(layout.placements())
    assert any(size < _font_scale(out) for _, _, size, _ in shown)  # some shrink
    assert any(text.startswith("#") for _, text, _, _ in shown)  # and then show their ID alone
    ids = layout.id_rects()
    for a, (i, _, _, rect) in enumerate(shown):  # no label drawn later covers one drawn earlier's ID
        for j, _, _, _ in shown[:a]:
            r = ids[j]
            assert min(rect[2], r[2]) <= max(rect[0], r[0]) or min(rect[3], r[3]) <= max(rect[1], r[1])
