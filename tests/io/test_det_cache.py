"""The detection cache of `tracker detect`: det.txt + det.npy + det.json, readable after every frame, and the
`mot` detector reading it back with its class names and embeddings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tracker.config import load_config
from tracker.detect.detectors import build_detector
from tracker.errors import DataError
from tracker.io.det_cache import EMBEDDINGS_NAME, INFO_NAME, CacheWriter, NpyRows
from tracker.io.mot import read_det
from tracker.structures import Detections

IMAGE = np.zeros((200, 200, 3), np.uint8)  # every test box lies inside it
NAMES = ["person", "bicycle", "car"]


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def frame_dets(n: int, seed: int, dim: int | None = 8) -> Detections:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 120, (n, 2))
    return Detections(
        boxes=np.hstack([xy, xy + rng.uniform(10, 60, (n, 2))]).astype(np.float32),
        scores=rng.uniform(0.2, 1.0, n).astype(np.float32),
        class_ids=rng.choice([0, 2], n).astype(np.int32),
        embeddings=None if dim is None else unit_rows(n, dim, seed),
    )


def test_npy_rows_is_a_valid_npy_after_every_append(tmp_path):
    path = tmp_path / "rows.npy"
    rows = NpyRows(path, 4)
    expected = np.zeros((0, 4), np.float32)
    assert np.load(path).shape == (0, 4)
    for seed, n in enumerate([3, 0, 5, 1]):
        new = unit_rows(n, 4, seed)
        rows.append(new)
        expected = np.vstack([expected, new])
        np.testing.assert_array_equal(np.load(path), expected)  # what a killed run leaves is whole
    rows.close()
    np.testing.assert_array_equal(np.load(path, mmap_mode="r"), expected)


def write_cache(folder, frames: dict[int, Detections], dim: int | None = 8) -> None:
    folder.mkdir(exist_ok=True)
    writer = CacheWriter(folder, NAMES, dim, {"source": "test"})
    for index, dets in frames.items():
        writer.write(index, dets)
    writer.close(complete=True)


def mot(det_file, **overrides):
    cfg = load_config(overrides={"detector.name": "mot", "detector.det_file": str(det_file),
                                 "detector.conf_threshold": 0.0, "detector.classes": None, **overrides})  # fmt: skip
    return build_detector(cfg.detector)


def test_the_mot_detector_reads_a_cache_back_with_class_names_and_embeddings(tmp_path):
    frames = {0: frame_dets(4, 1), 2: frame_dets(0, 2), 3: frame_dets(6, 3)}
    write_cache(tmp_path / "cache", frames)
    info = json.loads((tmp_path / "cache" / INFO_NAME).read_text())
    assert (info["rows"], info["frames"], info["embedding_dim"], info["complete"]) == (10, 3, 8, True)
    assert info["class_names"] == NAMES and info["source"] == "test"
    rows = read_det(tmp_path / "cache" / "det.txt")
    assert len(rows) == 10 and set(rows[:, 0].tolist()) == {1, 4}  # 1-based frames

    detector = mot(tmp_path / "cache" / "det.txt")
    assert detector.class_names == NAMES and detector.gives_embeddings
    got = detector.detect([IMAGE] * 4, [0, 1, 2, 3])
    for index in range(4):
        want = frames.get(index, Detections.empty(8))
        order = np.argsort(-want.scores, kind="stable")  # the detector sorts by score
        assert len(got[index]) == len(want)
        np.testing.assert_allclose(got[index].boxes, want.boxes[order], atol=0.01)
        np.testing.assert_array_equal(got[index].class_ids, want.class_ids[order])
        np.testing.assert_allclose(got[index].embeddings, want.embeddings[order], atol=1e-6)
    only_cars = mot(tmp_path / "cache" / "det.txt", **{"detector.classes": ["car"]}).detect([IMAGE], [3])[0]
    assert set(only_cars.class_ids.tolist()) == {2} and len(only_cars.embeddings) == len(only_cars)


def test_without_appearance_or_without_det_npy_there_are_no_embeddings(tmp_path):
    write_cache(tmp_path / "cache", {0: frame_dets(3, 1)})
    detector = mot(tmp_path / "cache" / "det.txt")
    detector.gives_embeddings = False  # what the pipeline does with appearance none
    assert detector.detect([IMAGE], [0])[0].embeddings is None
    write_cache(tmp_path / "plain", {0: frame_dets(3, 1, dim=None)}, dim=None)
    assert not (tmp_path / "plain" / EMBEDDINGS_NAME).exists()
    plain = mot(tmp_path / "plain" / "det.txt")
    assert plain.class_names == NAMES and not plain.gives_embeddings


def test_embeddings_that_do_not_match_det_txt_are_a_data_error(tmp_path):
    write_cache(tmp_path / "cache", {0: frame_dets(3, 1)})
    np.save(tmp_path / "cache" / EMBEDDINGS_NAME, unit_rows(2, 8, 0))
    with pytest.raises(DataError, match="det.npy has 2 embeddings but .*det.txt has 3 rows"):
        mot(tmp_path / "cache" / "det.txt")


def test_a_public_det_txt_without_det_json_is_all_person(tmp_path):
    (tmp_path / "det.txt").write_text("1,-1,10,10,20,40,0.9,5,-1,-1\n")  # column 8 is not a class here
    detector = mot(tmp_path / "det.txt")
    dets = detector.detect([IMAGE], [0])[0]
    assert detector.class_names == ["person"] and dets.class_ids.tolist() == [0] and dets.embeddings is None
