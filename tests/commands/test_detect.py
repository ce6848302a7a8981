"""`tracker detect`: the real default models (YOLOX-Nano + OSNet) run once into a cache that `track` then
reuses through `--detector mot`, with no embedder, tracking as the models would."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tracker.commands import main
from tracker.config import load_config
from tracker.io.det_cache import EMBEDDINGS_NAME, INFO_NAME
from tracker.io.mot import read_det
from tracker.pipeline import Session

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
FRAMES = 8


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("detect") / "det"
    assert main(["detect", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--max-frames", str(FRAMES)]) == 0
    return out


def test_detect_writes_det_txt_det_npy_and_det_json(cache, capsys):
    rows = read_det(cache / "det.txt")
    embeddings = np.load(cache / EMBEDDINGS_NAME)
    info = json.loads((cache / INFO_NAME).read_text())
    assert len(rows) > FRAMES and embeddings.shape == (len(rows), 512)  # OSNet-x0.25: 512-d
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)
    assert set(rows[:, 0].astype(int)) <= set(range(1, FRAMES + 1))
    assert (info["rows"], info["frames"], info["embedding_dim"]) == (len(rows), FRAMES, 512)
    assert info["class_names"][0] == "person" and info["detector"]["name"] == "yolox"
    assert info["appearance"]["name"] == "osnet" and info["complete"] is False  # stopped by --max-frames


def key(results):
    return [(r.frame_index, r.tracks.track_ids.tolist()) for r in results]


def test_track_reuses_the_cache_without_an_embedder_and_tracks_as_the_models_do(cache):
    # the models embedding every detection ahead of tracking: what the cache holds
    direct_cfg = load_config(overrides={"tracker.embed_on_demand": False})
    cached_cfg = load_config(overrides={"tracker.embed_on_demand": False, "detector.name": "mot",
                                        "detector.det_file": str(cache / "det.txt")})  # fmt: skip
    direct = Session(SAMPLE_VIDEO, direct_cfg)
    try:
        models = list(direct.results(max_frames=FRAMES))
    finally:
        direct.close()
    cached = Session(SAMPLE_VIDEO, cached_cfg)
    try:
        assert cached.embedder is None and cached.detector.gives_embeddings and cached.tracker.uses_appearance
        replayed = list(cached.results(max_frames=FRAMES))
    finally:
        cached.close()
    assert key(replayed) == key(models) and sum(len(r.tracks) for r in models) > 0
    for a, b in zip(replayed, models):
        np.testing.assert_allclose(a.tracks.boxes, b.tracks.boxes, atol=0.05)  # det.txt keeps 0.01 px


def test_detect_without_appearance_writes_no_embeddings(tmp_path, capsys):
    out = tmp_path / "det"
    code = main(["detect", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--max-frames", "2",
                 "--appearance", "none"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0 and "not embedded" in err and f"--set detector.det_file={out / 'det.txt'}" in err
    assert not (out / EMBEDDINGS_NAME).exists()
    assert json.loads((out / INFO_NAME).read_text())["embedding_dim"] is None


def test_eval_and_tune_reuse_the_cache(cache, tiny_seq, tmp_path, capsys):
    reuse = ["--detector", "mot", "--set", f"detector.det_file={cache / 'det.txt'}", "--video", str(SAMPLE_VIDEO)]
    assert main(["eval", str(tiny_seq), *reuse, "--tracker", "sort,botsort", "--out", str(tmp_path / "eval")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 6 and "| botsort | smoothed |" in table[5]  # sort and botsort, raw and smoothed
    best = tmp_path / "best.yaml"
    assert main(["tune", str(tiny_seq), *reuse, "--trials", "2", "--out", str(best)]) == 0
    assert "appearance osnet" in best.read_text()  # the cache's embeddings were used
