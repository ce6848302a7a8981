"""Draw tracks on frames: privacy blur, boxes, labels, fading trails and an info line; counting lines and zones.

:class:`Annotator` is stateful: it remembers each track's recent box bottom-centres
to draw its trail, forgetting a track once it has not been seen for
``trail_length`` frames. Colours come from the track id alone, so a track keeps its
colour for the whole video and across runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from functools import lru_cache

import cv2
import numpy as np

from ..structures import Detections, Tracks, class_name

FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE_AT_720P = 0.5  # label text size on a 720-pixel-high frame; scales with frame height
MIN_FONT_SCALE = 0.35  # smallest readable label text on small frames
REFERENCE_HEIGHT = 720.0
COORD_LIMIT = 1 << 15  # box coordinates are clipped to +-this before drawing (OpenCV works in int32 fixed point)
LABEL_PAD = 3  # pixels between label text and its background edge
GOLDEN_RATIO_CONJUGATE = 0.618033988749895  # hue step between consecutive ids: spreads colours evenly
ID_SATURATION = 210  # HSV saturation and value of track colours (0-255): vivid but not neon
ID_VALUE = 235
LUMA_WEIGHTS_BGR = np.array([0.114, 0.587, 0.299])  # ITU-R BT.601 luma of a BGR colour
DARK_TEXT_ABOVE_LUMA = 140.0  # label backgrounds brighter than this get black text, others white
TRAIL_MIN_BRIGHTNESS = 0.25  # oldest trail segment's colour as a fraction of the track colour
INFO_BACKGROUND = (32, 32, 32)
INFO_TEXT = (255, 255, 255)
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
BLUR_METHODS = ("pixelate", "gaussian")
PIXELATE_CELLS = 6  # pixelation: cells across a blurred box's shorter side (a face becomes a block or two)
GAUSSIAN_KERNEL_FRACTION = 0.5  # gaussian blur: kernel side as a fraction of the box's shorter side
MIN_GAUSSIAN_KERNEL = 3  # pixels; the kernel side is odd and at least this
COUNT_LINE_COLOR = (0, 215, 255)  # BGR amber: counting lines and their labels
ZONE_COLOR = (255, 160, 0)  # BGR azure: zone outlines and their labels
DIRECTION_ARROW_PX = 24  # length of the arrow that points to the "in" side of a counting line, at 720p
MIN_DIRECTION_ARROW_PX = 10  # the arrow stays visible on small frames
ARROW_TIP_FRACTION = 0.3  # arrow head length relative to the arrow


def blur_boxes(image: np.ndarray, boxes: np.ndarray, method: str) -> None:
    """Blur the inside of each xyxy box of ``image`` in place (``pixelate`` or ``gaussian``).

    Boxes are widened to whole pixels (floor / ceil) and clipped to the frame, so nothing
    of the object stays sharp; boxes outside the frame or with non-finite corners are skipped.
    """
    if method not in BLUR_METHODS:
        raise ValueError(f"unknown blur method {method!r}; choose one of {BLUR_METHODS}")
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    h, w = image.shape[:2]
    lo = np.clip(np.floor(boxes[:, :2]), 0, [w, h]).astype(np.int64)
    hi = np.clip(np.ceil(boxes[:, 2:]), 0, [w, h]).astype(np.int64)
    keep = (hi > lo).all(axis=1)
    for (x1, y1), (x2, y2) in zip(lo[keep].tolist(), hi[keep].tolist()):
        roi = image[y1:y2, x1:x2]
        short = min(x2 - x1, y2 - y1)
        if method == "pixelate":
            cell = max(1, short // PIXELATE_CELLS)
            cells = (max(1, (x2 - x1) // cell), max(1, (y2 - y1) // cell))
            small = cv2.resize(roi, cells, interpolation=cv2.INTER_AREA)
            roi[:] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
        else:
            k = max(MIN_GAUSSIAN_KERNEL, int(short * GAUSSIAN_KERNEL_FRACTION)) | 1
            roi[:] = cv2.GaussianBlur(roi, (k, k), 0, borderType=cv2.BORDER_REPLICATE)


def draw_counting(
    image: np.ndarray,
    lines: np.ndarray,
    line_labels: Sequence[str],
    zones: Sequence[np.ndarray],
    zone_labels: Sequence[str],
    thickness: int,
) -> None:
    """Draw counting lines (with an arrow to their "in" side) and zone outlines with their labels, in place.

    lines: (L,2,2) float pixel endpoints; zones: (K,2) float polygons.
    """
    scale = _font_scale(image)
    text_thickness = max(1, thickness // 2)
    arrow = max(MIN_DIRECTION_ARROW_PX, DIRECTION_ARROW_PX * image.shape[0] / REFERENCE_HEIGHT)
    for polygon, label in zip(zones, zone_labels):
        pts = np.rint(np.clip(polygon, -COORD_LIMIT, COORD_LIMIT)).astype(np.int32)
        cv2.polylines(image, [pts], True, ZONE_COLOR, thickness, cv2.LINE_AA)
        top = pts[np.argmin(pts[:, 1])]
        Annotator._draw_label(image, label, (int(top[0]), int(top[1])), ZONE_COLOR, BLACK, scale, text_thickness)
    for (a, b), label in zip(np.asarray(lines, np.float64).reshape(-1, 2, 2), line_labels):
        p, q = np.rint(np.clip([a, b], -COORD_LIMIT, COORD_LIMIT)).astype(np.int64).tolist()
        cv2.line(image, tuple(p), tuple(q), COUNT_LINE_COLOR, thickness, cv2.LINE_AA)
        d = b - a
        length = float(np.hypot(*d))
        if length > 0:
            right = np.array([-d[1], d[0]]) / length  # points to the "in" side (right, on screen)
            mid = (a + b) / 2.0
            tip = np.clip(mid + right * arrow, -COORD_LIMIT, COORD_LIMIT)
            mid = np.clip(mid, -COORD_LIMIT, COORD_LIMIT)
            cv2.arrowedLine(
                image, tuple(np.rint(mid).astype(np.int64).tolist()), tuple(np.rint(tip).astype(np.int64).tolist()),
                COUNT_LINE_COLOR, thickness, cv2.LINE_AA, tipLength=ARROW_TIP_FRACTION,
            )
        Annotator._draw_label(image, label, tuple(p), COUNT_LINE_COLOR, BLACK, scale, text_thickness)


def _font_scale(image: np.ndarray) -> float:
    return max(MIN_FONT_SCALE, FONT_SCALE_AT_720P * image.shape[0] / REFERENCE_HEIGHT)


def track_colors(track_ids: np.ndarray) -> np.ndarray:
    """(N,3) uint8 BGR colour of each track id: a deterministic hue from the id (golden-ratio steps)."""
    ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
    if not len(ids):
        return np.zeros((0, 3), np.uint8)
    hues = np.mod(ids * GOLDEN_RATIO_CONJUGATE, 1.0) * 180.0  # OpenCV hue range is [0, 180)
    hsv = np.empty((len(ids), 1, 3), np.uint8)
    hsv[:, 0, 0] = np.minimum(hues, 179).astype(np.uint8)
    hsv[:, 0, 1] = ID_SATURATION
    hsv[:, 0, 2] = ID_VALUE
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[:, 0, :]


def text_colors(backgrounds: np.ndarray) -> np.ndarray:
    """(N,3) uint8: black text on light backgrounds, white on dark ones."""
    luma = np.asarray(backgrounds, np.float64).reshape(-1, 3) @ LUMA_WEIGHTS_BGR
    dark = luma > DARK_TEXT_ABOVE_LUMA
    return np.where(dark[:, None], np.array(BLACK, np.uint8), np.array(WHITE, np.uint8)).astype(np.uint8)


def _bgr(color: np.ndarray) -> tuple[int, int, int]:
    return int(color[0]), int(color[1]), int(color[2])


@lru_cache(maxsize=256)
def _trail_ramp(segments: int, thickness: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """Brightness fraction and line width of each trail segment, oldest first: older segments are darker
    and thinner, the fraction running from TRAIL_MIN_BRIGHTNESS up to 1."""
    fractions = TRAIL_MIN_BRIGHTNESS + (1.0 - TRAIL_MIN_BRIGHTNESS) * np.arange(1, segments + 1) / segments
    widths = tuple(np.maximum(1, np.rint(fractions * thickness)).astype(np.int64).tolist())
    fractions.flags.writeable = False  # cached: shared by every call
    return fractions, widths


LABEL_SCALES = (1.0, 0.8, 0.65)  # label text sizes tried, as fractions of the frame's, before one shows its ID only
# Where a label may go, in order of preference: above its box, inside its top, below it, inside its bottom.
ABOVE, INSIDE_TOP, BELOW, INSIDE_BOTTOM = range(4)
HIDDEN = -1  # placement of a label that would cover another's ID wherever it went


@lru_cache(maxsize=1)
def _advances() -> np.ndarray:
    """(256,) the Hershey font's advance of each byte at scale 1 (OpenCV draws non-ASCII as '?').

    cv2.getTextSize's width is ``round(sum(advances) * scale + thickness)``: with this table the
    widths of every label at every size come from one array sum."""
    ascii_ = np.array([cv2.getTextSize(chr(c), FONT, 1.0, 0)[0][0] for c in range(32, 127)], np.float64)
    table = np.full(256, ascii_[ord("?") - 32])
    table[32:127] = ascii_
    return table


def _text_advances(texts: Sequence[str], spans: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(whole text, before the span, the span) summed advances (scale 1, no thickness) of each text; spans: (N,2)
    character ranges. Every character counts as one byte: OpenCV draws a non-ASCII one as one '?'."""
    data = [t.encode("ascii", "replace") for t in texts]
    lengths = np.fromiter(map(len, data), np.int64, len(data))
    sums = np.cumsum(np.concatenate([[0.0], _advances()[np.frombuffer(b"".join(data), np.uint8)]]))
    starts = np.cumsum(lengths) - lengths
    a, b = starts + spans[:, 0], starts + spans[:, 1]
    return sums[starts + lengths] - sums[starts], sums[a] - sums[starts], sums[b] - sums[a]


def _intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., M) intersection areas of rectangles ``a`` (..., 4) with ``b`` (M, 4); x1, y1, x2, y2 exclusive."""
    w = np.minimum(a[..., None, 2], b[:, 2]) - np.maximum(a[..., None, 0], b[:, 0])
    h = np.minimum(a[..., None, 3], b[:, 3]) - np.maximum(a[..., None, 1], b[:, 1])
    return np.maximum(w, 0) * np.maximum(h, 0)


class LabelLayout:
    """Where each track's label goes on one frame, and at what size, so that no label covers another's ID.

    Every label has candidates: its full text and then its ID alone, each at the sizes of
    LABEL_SCALES, each above its box, inside its top, below it or inside its bottom, each at its box's
    left or right edge (kept inside the frame). Labels that overlap no other label's first choice take it at once (one array test); the
    others, in order, take the candidate that overlaps the labels placed so far the least (the first
    such one: larger before smaller, full text before the ID alone), never one that covers a placed
    label's ID or a reserved area (the info line). A label with no such place is hidden.
    """

    def __init__(self, boxes: np.ndarray, texts: Sequence[str], id_spans: np.ndarray, frame_size: tuple[int, int],
                 scale: float, thickness: int, reserved: np.ndarray):  # fmt: skip
        """boxes: (N,4) int xyxy; texts: full labels; id_spans: (N,2) character range of the ID in each text;
        frame_size: (width, height); reserved: (R,4) rectangles no label may touch."""
        n = len(boxes)
        self.texts = list(texts)
        self.choice = np.full(n, HIDDEN, np.int64)  # index of each label's candidate
        self.order: list[int] = []  # labels in the order they were placed: the order to draw them in
        if n == 0:
            return
        self.id_texts = [t[a:b] for t, (a, b) in zip(texts, id_spans.tolist())]
        scales = scale * np.asarray(LABEL_SCALES)
        self.scales = scales
        full, before, own = _text_advances(self.texts, id_spans)
        # sizes per (text variant, scale, label): width, and where the ID starts and ends inside the label
        width = np.stack([np.rint(full * scales[:, None] + thickness), np.rint(own * scales[:, None] + thickness)])
        id_x0 = np.stack([np.rint(before * scales[:, None]), np.zeros((len(scales), n))]) + LABEL_PAD
        id_x1 = np.minimum(id_x0 + np.rint(own * scales[:, None] + thickness), width + LABEL_PAD)
        heights = np.array([sum(self.text_height(s, thickness)) for s in scales], np.float64)  # text + baseline
        box_w = width + 2 * LABEL_PAD  # (2, S, N)
        box_h = np.broadcast_to((heights + 2 * LABEL_PAD)[None, :, None], box_w.shape)
        fw, fh = frame_size
        b = boxes.astype(np.float64)
        lefts = np.stack([b[:, 0] + 0 * box_w, b[:, 2] - box_w])  # (2 aligns, 2 variants, S, N): box's left, right
        tops = np.stack([b[:, 1] - box_h, b[:, 1] + 0 * box_h, b[:, 3] + 0 * box_h, b[:, 3] - box_h])  # (4 sides,...)
        shape = (4, 2, *box_w.shape)  # side, align, variant, scale, label
        x = np.broadcast_to(np.clip(lefts, 0, np.maximum(fw - box_w, 0)), shape)
        y = np.broadcast_to(np.clip(tops, 0, np.maximum(fh - box_h, 0))[:, None], shape)
        w, h = np.broadcast_to(box_w, shape), np.broadcast_to(box_h, shape)
        rects = np.stack([x, y, x + w, y + h], axis=-1)
        ids = np.stack([x + np.broadcast_to(id_x0, shape), y, x + np.broadcast_to(id_x1, shape), y + h], axis=-1)
        # candidates of each label, in order of preference: (N, C, 4) with C = variant x scale x side x align
        order = (4, 2, 3, 0, 1, 5)  # (side, align, variant, scale, label, xyxy) -> (label, variant, scale, side, align)
        self._shape = (2, len(scales), 4, 2)
        self._rects = rects.transpose(order).reshape(n, int(np.prod(self._shape)), 4)
        self._ids = ids.transpose(order).reshape(n, int(np.prod(self._shape)), 4)
        self._place(np.asarray(reserved, np.float64).reshape(-1, 4))

    @staticmethod
    def text_height(scale: float, thickness: int) -> tuple[int, int]:
        """(height above the baseline, baseline) of label text, as cv2.getTextSize gives them."""
        (_, h), baseline = cv2.getTextSize("0", FONT, scale, thickness)  # the same for every text
        return h, baseline

    def _place(self, reserved: np.ndarray) -> None:
        n = len(self.choice)
        first = self._rects[:, 0]
        crowded = (_intersections(first, first) > 0).sum(axis=1) > 1  # itself, and another
        if len(reserved):
            crowded |= _intersections(first, reserved).any(axis=1)
        alone = np.flatnonzero(~crowded)
        self.choice[alone] = 0
        self.order = alone.tolist()
        # what is taken so far, in one array: labels (their area costs) and IDs or reserved areas (forbidden)
        taken = np.concatenate([first[alone], self._ids[alone, 0], reserved, np.empty((2 * n, 4))])
        forbidden = np.zeros(len(taken), bool)
        forbidden[len(alone) : 2 * len(alone) + len(reserved)] = True
        m = 2 * len(alone) + len(reserved)
        crowded = np.flatnonzero(crowded)
        reach = np.concatenate([self._rects[crowded, :, :2].min(axis=1), self._rects[crowded, :, 2:].max(axis=1)], 1)
        for i, (x1, y1, x2, y2) in zip(crowded.tolist(), reach.tolist()):
            t = taken[:m]  # only what lies where this label could go
            near = (t[:, 0] < x2) & (t[:, 2] > x1) & (t[:, 1] < y2) & (t[:, 3] > y1)
            c = self._cheapest(self._rects[i], t[near], forbidden[:m][near])
            if c is None:
                continue  # hidden: every place covers an ID
            self.choice[i] = c
            self.order.append(i)
            taken[m], taken[m + 1] = self._rects[i, c], self._ids[i, c]
            forbidden[m + 1] = True
            m += 2

    @staticmethod
    def _cheapest(candidates: np.ndarray, taken: np.ndarray, forbidden: np.ndarray) -> int | None:
        """The first candidate that overlaps the taken labels least and no forbidden rectangle; None when
        each touches a forbidden one."""
        area = _intersections(candidates, taken)
        cost = area.sum(axis=1)
        cost[area[:, forbidden].any(axis=1)] = np.inf
        best = int(cost.argmin())
        return None if cost[best] == np.inf else best

    def placements(self):
        """(label row, text, font scale, rectangle x1, y1, x2, y2 exclusive) of each label shown, in drawing order."""
        if not self.order:
            return
        shown = np.asarray(self.order, np.int64)
        variant, scale, _, _ = np.unravel_index(self.choice[shown], self._shape)
        rects = self._rects[shown, self.choice[shown]].astype(np.int64).tolist()
        for i, v, k, rect in zip(shown.tolist(), variant.tolist(), scale.tolist(), rects):
            yield i, self.texts[i] if v == 0 else self.id_texts[i], float(self.scales[k]), rect

    def id_rects(self) -> np.ndarray:
        """(N,4) where each shown label's ID is (x1, y1, x2, y2 exclusive); -1 for hidden labels."""
        out = np.full((len(self.choice), 4), -1.0)
        shown = self.choice != HIDDEN
        if shown.any():
            out[shown] = self._ids[shown, self.choice[shown]]
        return out.astype(np.int64)


class Annotator:
    """Draws tracks onto BGR frames and keeps the trail of each track id."""

    def __init__(
        self,
        trail_length: int,
        line_thickness: int,
        blur_classes: Sequence[str] = (),
        blur_method: str = "pixelate",
    ):
        """blur_classes: class names whose boxes are blurred (privacy) before anything is drawn."""
        if blur_method not in BLUR_METHODS:
            raise ValueError(f"unknown blur method {blur_method!r}; choose one of {BLUR_METHODS}")
        self.trail_length = int(trail_length)
        self.line_thickness = int(line_thickness)
        self.blur_classes = frozenset(blur_classes)
        self.blur_method = blur_method
        self._blur_ids_for: tuple[tuple[str, ...], np.ndarray] | None = None
        self._trails: dict[int, deque[tuple[int, int]]] = {}
        self._last_seen: dict[int, int] = {}
        self._calls = 0

    def trail(self, track_id: int) -> list[tuple[int, int]]:
        """The remembered bottom-centre points of ``track_id``, oldest first."""
        return list(self._trails.get(int(track_id), ()))

    def draw(
        self,
        image: np.ndarray,
        tracks: Tracks,
        class_names: list[str],
        *,
        frame_index: int | None = None,
        time_s: float | None = None,
        fps: float | None = None,
        underlay: Callable[[np.ndarray], None] | None = None,
        hidden: Sequence[Detections | None] = (),
    ) -> np.ndarray:
        """A copy of ``image`` with tracks, trails and an info line drawn on it.

        frame_index: the frame's position (trails age by it; default: one per call).
        time_s / fps: shown in the info line when given.
        underlay: draws on the copy after the privacy blur and before the tracks (counting lines, zones).
        hidden: more boxes the privacy blur covers when of a blurred class, drawn or not: the frame's
            detections (tentative and unmatched ones too) and the predicted boxes of lost tracks.
        """
        out = image.copy()
        frame = self._calls if frame_index is None else int(frame_index)
        self._calls += 1
        valid = tracks.valid_mask()
        if self.blur_classes:
            self._blur(out, [tracks, *(h for h in hidden if h is not None)], class_names)
        if underlay is not None:
            underlay(out)
        boxes = np.rint(np.clip(tracks.boxes[valid], -COORD_LIMIT, COORD_LIMIT)).astype(np.int64)
        ids = tracks.track_ids[valid]
        colors = track_colors(ids)
        self._update_trails(frame, ids, boxes)
        thickness = self.line_thickness
        for tid, color in zip(ids.tolist(), colors):
            self._draw_trail(out, tid, _bgr(color), thickness)
        scale = _font_scale(out)
        text_thickness = max(1, thickness // 2)
        ink = text_colors(colors)
        for (x1, y1, x2, y2), color in zip(boxes.tolist(), colors):
            cv2.rectangle(out, (x1, y1), (x2, y2), _bgr(color), thickness, cv2.LINE_AA)
        info = self._info_text(frame, time_s, fps, ids, tracks.class_ids[valid], class_names)
        (w, h), baseline = cv2.getTextSize(info, FONT, scale, text_thickness)
        info_rect = np.array([[0, 0, w + 2 * LABEL_PAD + 1, h + baseline + 2 * LABEL_PAD + 1]])
        layout = self.layout(tracks, valid, boxes, class_names, out, scale, text_thickness, info_rect)
        self.last_layout = layout  # the labels of the latest frame: where each went, its size, which were hidden
        for i, text, size, (x1, y1, x2, y2) in layout.placements():  # after every box: no box line crosses a label
            cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), _bgr(colors[i]), cv2.FILLED)
            h_text = LabelLayout.text_height(size, text_thickness)[0]
            cv2.putText(out, text, (x1 + LABEL_PAD, y1 + LABEL_PAD + h_text), FONT, size, _bgr(ink[i]),
                        text_thickness, cv2.LINE_AA)  # fmt: skip
        self._draw_label(out, info, (0, 0), INFO_BACKGROUND, INFO_TEXT, scale, text_thickness, inside=True)
        return out

    @staticmethod
    def _info_text(frame: int, time_s, fps, ids: np.ndarray, class_ids: np.ndarray, class_names: list[str]) -> str:
        info = [f"frame {frame}"]
        if time_s is not None:
            info.append(f"{time_s:.2f} s")
        if fps is not None:
            info.append(f"{fps:.1f} fps")
        info.append(f"{len(ids)} tracks")
        per_class = Annotator._class_counts(class_ids, class_names)
        if per_class:
            info.append(per_class)
        return "  ".join(info)

    @staticmethod
    def layout(tracks: Tracks, valid: np.ndarray, boxes: np.ndarray, class_names: list[str], out: np.ndarray,
               scale: float, thickness: int, reserved: np.ndarray) -> LabelLayout:  # fmt: skip
        """Where the ``class #id score`` labels of the valid tracks go (boxes: their int xyxy boxes)."""
        class_ids = tracks.class_ids[valid].tolist()
        names = [class_name(class_names, c) for c in class_ids]
        tids = [f"#{t}" for t in tracks.track_ids[valid].tolist()]
        texts = [f"{n} {t} {score:.2f}" for n, t, score in zip(names, tids, tracks.scores[valid].tolist())]
        start = np.fromiter((len(n) + 1 for n in names), np.int64, len(names))
        spans = np.stack([start, start + np.fromiter(map(len, tids), np.int64, len(tids))], axis=1)
        return LabelLayout(boxes, texts, spans.reshape(-1, 2), (out.shape[1], out.shape[0]), scale, thickness, reserved)

    # helpers ---------------------------------------------------------------------
    def _blur(self, out: np.ndarray, groups: Sequence[Detections], class_names: list[str]) -> None:
        """Blur every box of a blurred class in ``groups`` (invalid boxes are skipped by :func:`blur_boxes`)."""
        ids = self._blur_ids(class_names)
        boxes = np.concatenate([g.boxes[np.isin(g.class_ids, ids)] for g in groups])
        if len(boxes):
            blur_boxes(out, boxes, self.blur_method)

    def _blur_ids(self, class_names: list[str]) -> np.ndarray:
        """Class ids of ``blur_classes`` in ``class_names`` (cached for the latest list)."""
        key = tuple(class_names)
        if self._blur_ids_for is None or self._blur_ids_for[0] != key:
            ids = [i for i, name in enumerate(key) if name in self.blur_classes]
            self._blur_ids_for = (key, np.asarray(ids, np.int64))
        return self._blur_ids_for[1]

    @staticmethod
    def _class_counts(class_ids: np.ndarray, class_names: list[str]) -> str:
        """"2 person, 1 car" when the frame holds more than one class, else ""."""
        classes, counts = np.unique(class_ids, return_counts=True)
        if len(classes) < 2:
            return ""
        names = [class_name(class_names, c) for c in classes.tolist()]
        return "(" + ", ".join(f"{n} {name}" for n, name in zip(counts.tolist(), names)) + ")"

    def _update_trails(self, frame: int, ids: np.ndarray, boxes: np.ndarray) -> None:
        if self.trail_length <= 0:
            return
        bottoms = np.stack([(boxes[:, 0] + boxes[:, 2]) // 2, boxes[:, 3]], axis=1) if len(boxes) else boxes[:, :2]
        for tid, point in zip(ids.tolist(), bottoms.tolist()):
            trail = self._trails.get(tid)
            if trail is None:
                trail = self._trails[tid] = deque(maxlen=self.trail_length)
            trail.append((point[0], point[1]))
            self._last_seen[tid] = frame
        stale = [tid for tid, seen in self._last_seen.items() if frame - seen > self.trail_length]
        for tid in stale:
            del self._trails[tid], self._last_seen[tid]

    def _draw_trail(self, out: np.ndarray, tid: int, color: tuple[int, int, int], thickness: int) -> None:
        points = self._trails.get(tid)
        if points is None or len(points) < 2:
            return
        points = list(points)
        fractions, widths = _trail_ramp(len(points) - 1, thickness)
        shades = np.rint(np.outer(fractions, color)).astype(np.int64).tolist()
        for i, width in enumerate(widths):
            cv2.line(out, points[i], points[i + 1], shades[i], width, cv2.LINE_AA)

    @staticmethod
    def _draw_label(
        out: np.ndarray,
        text: str,
        anchor: tuple[int, int],
        background: tuple[int, int, int],
        foreground: tuple[int, int, int],
        scale: float,
        thickness: int,
        inside: bool = False,
    ) -> None:
        """Text on a filled box: above ``anchor`` when there is room, else below it (``inside``: always below)."""
        (w, h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
        box_w, box_h = w + 2 * LABEL_PAD, h + baseline + 2 * LABEL_PAD
        x = min(max(anchor[0], 0), max(out.shape[1] - box_w, 0))
        lowest = max(out.shape[0] - box_h, 0)
        top = min(max(anchor[1] if inside or anchor[1] - box_h < 0 else anchor[1] - box_h, 0), lowest)
        cv2.rectangle(out, (x, top), (x + box_w, top + box_h), background, cv2.FILLED)
        cv2.putText(out, text, (x + LABEL_PAD, top + LABEL_PAD + h), FONT, scale, foreground, thickness, cv2.LINE_AA)
