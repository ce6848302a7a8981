"""Trackers the benchmarks run on the same inputs: ours and the peers, one adapter per library.

Libraries: Ultralytics (``BYTETracker`` / ``BOTSORT`` with their bundled YAML), BoxMOT 25
(AGPL-3.0: imported here, in the benchmarks, never by the package) and Roboflow ``trackers`` 2.
A :class:`Peer` names a tracker of a library plus the settings a row changes from that
library's own defaults (none for the default rows: a peer runs as its users get it, i.e.
BoxMOT's and Roboflow's Python constructors with no arguments, Ultralytics' bundled YAML).

Every adapter splits a frame into three calls so that only the library's own update is timed:
``inputs`` (our :class:`Detections` -> the library's input, untimed), ``update`` (timed),
``tracks`` (its output -> our :class:`Tracks`, untimed). ``needs_frames`` says whether the
tracker uses the image (camera-motion compensation); ``takes_fps`` whether its API takes
the frame rate (it is always given the sequence's real one where it does).
Appearance trackers get our OSNet-x0.25 embeddings, so none of them loads a ReID model.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common import ROOT

from tracker.analyze.smoothing import CameraPath, smooth_frames
from tracker.config import load_config
from tracker.structures import Detections, Tracks
from tracker.tracking import build_tracker
from tracker.tracking.camera_motion import CameraMotion


# The papers' buffer (ByteTrack / BoT-SORT tools/track.py): track_buffer 30 frames at frame_rate 30, scaled with the rate
PAPER_BUFFER_FRAMES = 30
PAPER_FRAME_RATE = 30.0


@dataclass(frozen=True)
class Peer:
    library: str  # ultralytics | boxmot | roboflow
    tracker: str  # Ultralytics: its YAML (bytetrack | botsort); BoxMOT / Roboflow: the class name
    options: dict[str, Any] = field(default_factory=dict)  # settings changed from the library's defaults


@dataclass(frozen=True)
class Ours:
    tracker: str  # sort | deepsort | bytetrack | botsort
    config: str | None = None  # a preset YAML under configs/, loaded like `--config`
    # True: what the tracker reports live; False: what a run's tracks files hold once it ends, after the config's
    # post-processing (`smoothing:`, on by default)
    online: bool = False


def _tracks(boxes, scores, class_ids, track_ids, det_index=None) -> Tracks:
    n = len(boxes)
    return Tracks(
        boxes=np.asarray(boxes, np.float32).reshape(n, 4),
        scores=scores,
        class_ids=np.asarray(class_ids).astype(np.int32),
        track_ids=np.asarray(track_ids).astype(np.int64),
        det_index=np.full(n, -1) if det_index is None else np.asarray(det_index).astype(np.int64),
    )


class OursAdapter:
    """Our tracker as the pipeline runs it: the embeddings given as ``Tracker.replay`` gives them, the camera's
    motion estimated from the frame by ``CameraMotion`` when the config turns it on (timed with the update)."""

    takes_fps = True

    def __init__(self, spec: Ours, fps: float, image_size, overrides: list[str] = ()):
        config = None if spec.config is None else ROOT / "configs" / spec.config
        full = load_config(config, tracker=spec.tracker, overrides=list(overrides))
        cfg = full.tracker
        self.tracker = build_tracker(cfg, fps=fps)
        cmc = getattr(cfg, "cmc", None)
        self.camera_motion = CameraMotion(cmc) if cmc is not None and cmc.method != "none" else None
        self.needs_frames = self.camera_motion is not None
        self.smoothing = full.smoothing if full.smoothing.enabled and not spec.online else None
        self.fps = fps
        self.warps: list[np.ndarray] = []  # the camera motion of every frame, for the post-processing

    def inputs(self, dets: Detections, image):
        return dets, image

    def update(self, inputs) -> Tracks:
        dets, image = inputs
        warp = self.camera_motion.estimate(image) if self.camera_motion is not None else None
        self.warps.append(warp)
        return self.tracker.replay(dets, warp=warp)

    def finish(self, out: list[Tracks]) -> tuple[list[Tracks], list[int]]:
        """The tracks of every frame as the run's files hold them: post-processed (along the camera's motion) unless
        the row is ``online``; and their frames."""
        if self.smoothing is None:
            return out, list(range(len(out)))
        camera = CameraPath(np.arange(len(out)), self.warps) if self.camera_motion is not None else None
        return smooth_frames(out, range(len(out)), self.smoothing, self.fps, camera)

    def tracks(self, result: Tracks) -> Tracks:
        return result


class UltralyticsAdapter:
    """``BYTETracker`` / ``BOTSORT`` built from the bundled YAML; ``with_reid`` rows get our embeddings as the
    detector's native features (``model: auto``). Its trackers take no frame rate (track_buffer is in frames), so
    ``yolo track`` keeps a lost track 30 frames at any rate; the option ``papers_buffer`` instead sets track_buffer
    as the papers' code scales it, int(frame_rate / 30 * 30) frames (the paper rows: the same settings as ours)."""

    takes_fps = False

    def __init__(self, peer: Peer, fps: float, image_size):
        from ultralytics.trackers.bot_sort import BOTSORT
        from ultralytics.trackers.byte_tracker import BYTETracker
        from ultralytics.utils import YAML, IterableSimpleNamespace
        from ultralytics.utils.checks import check_yaml

        options = dict(peer.options)
        if options.pop("papers_buffer", False):
            options["track_buffer"] = int(fps / PAPER_FRAME_RATE * PAPER_BUFFER_FRAMES)  # the papers' own int()
            self.takes_fps = True  # through the buffer
        args = {**YAML.load(check_yaml(f"{peer.tracker}.yaml")), **options}
        kind = BOTSORT if args["tracker_type"] == "botsort" else BYTETracker
        self.tracker = kind(args=IterableSimpleNamespace(**args))
        self.image_size = tuple(int(v) for v in image_size)
        self.feeds = bool(args.get("with_reid"))
        self.needs_frames = getattr(getattr(self.tracker, "gmc", None), "method", None) is not None

    def inputs(self, dets: Detections, image):
        from ultralytics.engine.results import Boxes

        boxes = Boxes(np.concatenate([dets.boxes, dets.scores[:, None], dets.class_ids[:, None]], axis=1), self.image_size)
        return boxes, image, dets.embeddings if self.feeds else None

    def update(self, inputs):
        boxes, image, feats = inputs
        return self.tracker.update(boxes, image, feats=feats)

    def tracks(self, result) -> Tracks:
        res = np.asarray(result, np.float64).reshape(-1, 8)  # x1 y1 x2 y2 id score cls idx
        return _tracks(res[:, :4], res[:, 5], res[:, 6], res[:, 4], res[:, 7])


class BoxMotAdapter:
    """A BoxMOT tracker fed ``boxmot.structures.detections.Detections``, with our embeddings for the trackers that
    use appearance (then BoxMOT never builds its own ReID model) and the real frame for those that need one."""

    def __init__(self, peer: Peer, fps: float, image_size):
        import boxmot

        kind = getattr(boxmot, peer.tracker)  # imports boxmot.utils, which sets up its logger
        logging.getLogger("boxmot").setLevel(logging.WARNING)  # not one INFO line per tracker built
        self.takes_fps = "frame_rate" in inspect.signature(kind).parameters
        self.tracker = kind(**peer.options, **({"frame_rate": fps} if self.takes_fps else {}))
        need = self.tracker.requirements
        self.needs_frames = need.frame or need.frame_dimensions_only
        self.feeds = self.tracker.generates_embeddings
        self.frame_index = 0

    def inputs(self, dets: Detections, image):
        import torch
        from boxmot.structures import Boxes
        from boxmot.structures.detections import Detections as BoxMotDetections

        self.frame_index += 1
        d = BoxMotDetections(
            geometry=Boxes(torch.from_numpy(dets.boxes.copy())),
            scores=torch.from_numpy(dets.scores.copy()),
            class_ids=torch.from_numpy(dets.class_ids.astype(np.int64)),
            sample_id=f"frame{self.frame_index}",
            embeddings=torch.from_numpy(dets.embeddings.copy()) if self.feeds else None,
        )
        return d, image

    def update(self, inputs):
        return self.tracker.update(*inputs)

    def tracks(self, result) -> Tracks:
        return _tracks(
            result.geometry.values.numpy(), result.scores.numpy(), result.class_ids.numpy(),
            result.track_ids.numpy(), result.detection_indices.numpy(),
        )


class RoboflowAdapter:
    """A Roboflow ``trackers`` tracker fed ``supervision.Detections``; unconfirmed outputs (tracker_id -1) dropped.
    Trackers with camera-motion compensation get the frame, in the channel order their ``update`` documents."""

    RGB_FRAMES = {"McByteTracker"}  # its update() takes RGB (its mask backends read it as RGB); BoT-SORT takes BGR

    def __init__(self, peer: Peer, fps: float, image_size):
        import trackers

        kind = getattr(trackers, peer.tracker)
        self.takes_fps = "frame_rate" in inspect.signature(kind).parameters
        self.tracker = kind(**peer.options, **({"frame_rate": fps} if self.takes_fps else {}))
        self.needs_frames = bool(getattr(self.tracker, "enable_cmc", False))  # the others warn when given a frame
        self.rgb = peer.tracker in self.RGB_FRAMES

    def inputs(self, dets: Detections, image):
        import supervision as sv

        d = sv.Detections(xyxy=dets.boxes.astype(np.float64), confidence=dets.scores, class_id=dets.class_ids)
        if image is not None and self.rgb:
            image = np.ascontiguousarray(image[:, :, ::-1])
        return d, image

    def update(self, inputs):
        return self.tracker.update(*inputs)

    def tracks(self, result) -> Tracks:
        keep = result.tracker_id >= 0
        n = int(keep.sum())
        scores = result.confidence[keep] if result.confidence is not None else np.ones(n, np.float32)
        classes = result.class_id[keep] if result.class_id is not None else np.zeros(n, np.int32)
        return _tracks(result.xyxy[keep], scores, classes, result.tracker_id[keep])


ADAPTERS = {"ultralytics": UltralyticsAdapter, "boxmot": BoxMotAdapter, "roboflow": RoboflowAdapter}


def build(spec: Ours | Peer, fps: float, image_size, overrides: list[str] = ()):
    """A fresh adapter for one run; ``overrides`` (``--set``) apply to our trackers only."""
    if isinstance(spec, Ours):
        return OursAdapter(spec, fps, image_size, overrides)
    return ADAPTERS[spec.library](spec, fps, image_size)


OURS = {name: Ours(name) for name in ("sort", "deepsort", "bytetrack", "botsort")}
# The same, live: without the post-processing of the run's files (the paper presets below are live too).
OURS_ONLINE = {f"{name}-online": Ours(name, online=True) for name in OURS}
# ByteTrack and BoT-SORT with the thresholds of their papers' code (configs/*_paper.yaml; benchmarks/RESULTS.md).
OURS_PAPER = {
    "bytetrack-paper": Ours("bytetrack", "bytetrack_paper.yaml", online=True),
    "botsort-paper": Ours("botsort", "botsort_paper.yaml", online=True),
}
# Peers with their own defaults. BoxMOT's BotSort uses appearance by default: without embeddings it would download
# a ReID model, so its motion-only row turns appearance off; every other row changes nothing.
PEERS = {
    "ul-bytetrack": Peer("ultralytics", "bytetrack"),
    "ul-botsort": Peer("ultralytics", "botsort"),
    "ul-botsort-reid": Peer("ultralytics", "botsort", {"with_reid": True}),
    "boxmot-bytetrack": Peer("boxmot", "ByteTrack"),
    "boxmot-botsort": Peer("boxmot", "BotSort", {"use_embeddings": False}),
    "boxmot-botsort-reid": Peer("boxmot", "BotSort"),
    "boxmot-ocsort": Peer("boxmot", "OcSort"),
    "boxmot-deepocsort": Peer("boxmot", "DeepOcSort"),
    "boxmot-boosttrack": Peer("boxmot", "BoostTrack"),
    "boxmot-hybridsort": Peer("boxmot", "HybridSort"),
    "boxmot-strongsort": Peer("boxmot", "StrongSort"),
    "rf-sort": Peer("roboflow", "SORTTracker"),
    "rf-bytetrack": Peer("roboflow", "ByteTrackTracker"),
    "rf-ocsort": Peer("roboflow", "OCSORTTracker"),
    "rf-botsort": Peer("roboflow", "BoTSORTTracker"),
    "rf-mcbyte": Peer("roboflow", "McByteTracker"),
}
# The same paper settings in the peers' own terms, to check ours against them (not counted as peers: not defaults).
# ByteTrack (ifzhang/ByteTrack): high 0.5, low 0.1, new tracks 0.6 (track_thresh + 0.1), IoU gate 0.8 fused with the
# score, 30 frames at 30 fps. BoT-SORT (NirAharon/BoT-SORT tools/track.py): high 0.6, low 0.1, new 0.7, gate 0.8 fused,
# ReID only below IoU distance 0.5 and halved cosine distance 0.25, sparse optical flow CMC, 30 frames at 30 fps.
PAPER_PEERS = {
    # Ultralytics: thresholds as in the papers; its appearance_thresh / proximity_thresh are similarities (1 - distance)
    # and the papers' buffer: 30 frames at 30 fps, scaled with the frame rate (Ultralytics alone keeps 30 frames)
    "ul-bytetrack-paper": Peer(
        "ultralytics", "bytetrack", {"track_high_thresh": 0.5, "new_track_thresh": 0.6, "papers_buffer": True}
    ),
    "ul-botsort-reid-paper": Peer(
        "ultralytics", "botsort",
        {"track_high_thresh": 0.6, "new_track_thresh": 0.7, "with_reid": True, "appearance_thresh": 0.75,
         "papers_buffer": True},
    ),
    # BoxMOT's ByteTrack starts tracks at track_thresh itself (no separate new-track threshold): 0.5 for both
    "boxmot-bytetrack-paper": Peer("boxmot", "ByteTrack", {"track_thresh": 0.5, "track_buffer": 30}),
    # BoxMOT's BotSort compares the raw cosine distance (not halved) to appearance_thresh: 0.5 = the paper's 0.25
    "boxmot-botsort-reid-paper": Peer(
        "boxmot", "BotSort",
        {"track_high_thresh": 0.6, "new_track_thresh": 0.7, "fuse_first_associate": True, "appearance_thresh": 0.5,
         "cmc_method": "sof"},
    ),
}
# Our paper preset -> the peers at the same settings (issue #13 part 4: ours must at least match them).
PAPER_COUNTERPARTS = {
    "bytetrack-paper": ["ul-bytetrack-paper", "boxmot-bytetrack-paper"],
    "botsort-paper": ["ul-botsort-reid-paper", "boxmot-botsort-reid-paper"],
}
ROWS: dict[str, Ours | Peer] = {**OURS, **OURS_ONLINE, **OURS_PAPER, **PEERS, **PAPER_PEERS}
GROUPS = {
    "ours": [*OURS, *OURS_ONLINE, *OURS_PAPER],
    "peers": list(PEERS),
    "ultralytics": [n for n, p in PEERS.items() if p.library == "ultralytics"],
    "boxmot": [n for n, p in PEERS.items() if p.library == "boxmot"],
    "roboflow": [n for n, p in PEERS.items() if p.library == "roboflow"],
    "paper": [*OURS_PAPER, *PAPER_PEERS],
    "all": list(ROWS),
}


def expand(names: list[str]) -> list[str]:
    """Row names from names and groups, in order, without repeats."""
    out: list[str] = []
    for name in names:
        if name not in ROWS and name not in GROUPS:
            raise SystemExit(f"unknown tracker {name!r}; choose rows {', '.join(ROWS)} or groups {', '.join(GROUPS)}")
        out += GROUPS.get(name, [name])
    return list(dict.fromkeys(out))
