"""The privacy blur never leaks: every frame of the written video, decoded, against the detections.

Three textured "people" on a plain background, detected from a det.txt: A appears after the first
frame (so it is tentative for a frame), B is only ever detected below ``new_track_thresh`` (never a
track), and C's detections stop for a few frames while it is still in view (a lost track, predicted).
A box shows its person when most of its pixels equal the source frame's; a blurred one does not.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tracker.config import load_config
from tracker.io.video import video_path
from tracker.pipeline import run

SIZE = (320, 240)
FRAMES = 30
PERSON = (40, 60)  # width, height of each textured person
BORDER_PX = 4  # box outlines and trails are drawn over a box's edge: only its inside is compared
MATCH_LEVELS = 4  # a pixel "shows the source" within this many grey levels (lossless codecs: 0)
LEAK_FRACTION = 0.3  # a box leaks when more of its inside than this shows the source
C_UNSEEN = range(12, 17)  # frames without a detection of C: its track is lost and predicted


def top_left(person: str, frame: int) -> tuple[int, int] | None:
    """Where ``person`` is in ``frame`` (None: not in view)."""
    if person == "A":
        return (20 + 4 * frame, 30) if frame >= 3 else None
    if person == "B":
        return 240, 20
    return 20 + 3 * frame, 150


def boxes(person: str, frame: int) -> tuple[int, int, int, int] | None:
    corner = top_left(person, frame)
    return None if corner is None else (*corner, corner[0] + PERSON[0], corner[1] + PERSON[1])


def make_sequence(folder: Path) -> tuple[Path, list[np.ndarray]]:
    """(det.txt, the frames) of the scene; frames are written as PNG images, losslessly."""
    rng = np.random.default_rng(0)
    texture = {p: rng.integers(0, 256, (PERSON[1], PERSON[0]), np.uint8) for p in "ABC"}
    scores = {"A": 0.9, "B": 0.3, "C": 0.9}
    images, rows = folder / "img", []
    images.mkdir(parents=True)
    frames = []
    for f in range(FRAMES):
        gray = np.full((SIZE[1], SIZE[0]), 128, np.uint8)
        for p in "ABC":
            box = boxes(p, f)
            if box is None:
                continue
            x1, y1, x2, y2 = box
            gray[y1:y2, x1:x2] = texture[p]
            if not (p == "C" and f in C_UNSEEN):
                rows.append(f"{f + 1},-1,{x1},{y1},{PERSON[0]},{PERSON[1]},{scores[p]}")
        image = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        assert cv2.imwrite(str(images / f"{f:06d}.png"), image)
        frames.append(image)
    det = folder / "det.txt"
    det.write_text("\n".join(rows) + "\n")
    return det, frames


def decoded(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (image := cap.read()[1]) is not None:
        frames.append(image)
    cap.release()
    return frames


def shown_fraction(out: np.ndarray, source: np.ndarray, box) -> float:
    x1, y1, x2, y2 = box
    inside = np.s_[y1 + BORDER_PX:y2 - BORDER_PX, x1 + BORDER_PX:x2 - BORDER_PX]
    diff = np.abs(out[inside].astype(int) - source[inside].astype(int)).max(axis=2)
    return float((diff <= MATCH_LEVELS).mean())


@pytest.mark.parametrize("codec", [["output.codec=FFV1"], ["output.codec=h264", "output.crf=0"]],
                         ids=["ffv1", "h264-lossless"])  # fmt: skip
@pytest.mark.parametrize("method", ["pixelate", "gaussian"])
def test_no_person_is_ever_shown_unblurred(codec, method, tmp_path):
    det, source = make_sequence(tmp_path)
    cfg = load_config(overrides=[
        "detector.name=mot", f"detector.det_file={det}", "appearance.name=none", "output.blur_classes=[person]",
        f"output.blur_method={method}", *codec,
    ])  # fmt: skip
    assert cfg.tracker.new_track_thresh > 0.3 and cfg.tracker.n_init > 1  # B is never a track, A starts tentative
    run(tmp_path / "img", tmp_path / "run", cfg, progress=False)
    video = decoded(video_path(tmp_path / "run", cfg.output.codec))
    assert len(video) == FRAMES
    leaks = [
        (f, p, round(shown, 2))
        for f, (out, src) in enumerate(zip(video, source))
        for p in "ABC"
        if boxes(p, f) is not None and (shown := shown_fraction(out, src, boxes(p, f))) > LEAK_FRACTION
    ]
    assert leaks == []
    # the comparison can see a person: the background around them is the source's
    assert shown_fraction(video[-1], source[-1], (200, 120, 300, 145)) > 0.9
