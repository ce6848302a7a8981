"""Typed, validated configuration.

The YAML files in ``configs/`` are the single source of truth for every value:
the models below declare types and ranges but no defaults, so a value cannot drift
between code and YAML. ``load_config`` merges, in order: ``configs/default.yaml``, the tracker section of
``configs/<tracker>.yaml`` (the tracker named by the arguments, the user file or the
default), a user YAML file, and
``--set key=value`` overrides; then validates. Unknown keys and bad values raise
:class:`~tracker.errors.ConfigError` naming the key.

A tunable value may be written with its search range beside it (BoxMOT's tracker YAML
style), e.g. ``match_thresh: {default: 0.85, range: [0.5, 0.95]}``: loading takes the
default, and ``tracker tune`` searches the range (:func:`search_ranges`).

The registries ``TRACKERS``, ``DETECTORS`` and ``EMBEDDERS`` name every component once:
validation, the command line's choices and the builders all read them.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from .errors import ConfigError
from .registry import Registry

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
TUNABLE_KEYS = frozenset({"default", "range", "log", "when"})  # {default: v, range: [lo, hi], ...} in a YAML
# Detectors and appearance models by name; each is imported when built (tracker.detect), so naming one never
# imports another's dependencies.
DETECTORS = Registry("detector", {
    "yolox": "tracker.detect.detectors.yolox:YoloxDetector",  # packaged YOLOX-Nano ONNX, offline
    "yolo": "tracker.detect.detectors.yolo:UltralyticsDetector",
    "mot": "tracker.detect.detectors.mot:MotDetections",  # a MOTChallenge det.txt
    "torchvision": "tracker.detect.detectors.torchvision_det:TorchvisionDetector",
})  # fmt: skip
EMBEDDERS = Registry("appearance model", {
    "osnet": "tracker.detect.appearance.onnx_embedder:OnnxEmbedder",  # packaged OSNet-x0.25 ONNX
    "resnet": "tracker.detect.appearance:build_resnet",  # packaged ResNet-18 x0.25 (ONNX on CPU), or weights given
    "none": None,
})  # fmt: skip

Prob = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
PositiveInt = Annotated[int, Field(ge=1)]
# Threshold on an IoU distance (1 - IoU). Boxes that do not overlap are at distance 1, so a
# threshold below 1 is what lets IoU-gated stages only look at overlapping pairs.
IouGate = Annotated[float, Field(gt=0.0, lt=1.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SourceConfig(Strict):
    queue_size: PositiveInt  # decoded frames buffered ahead of the detector
    max_failed_reads: PositiveInt  # consecutive undecodable frames before a file is declared broken
    reconnect_timeout_s: Annotated[float, Field(ge=0.0)]  # live sources: how long to retry a dropped stream
    reconnect_backoff_s: Positive  # first wait between reconnect attempts (doubles up to 8x)
    drop_stale_frames: bool  # live sources: keep only the newest frame when the pipeline falls behind
    fps: Positive | None  # override the frame rate the source reports (e.g. wrong container metadata)
    default_fps: Positive  # frame rate used when the source reports none (0/NaN) and no seqinfo.ini gives one
    stream_timeout_s: Positive  # live streams: wait this long to connect or for a frame before counting an outage
    vid_stride: PositiveInt  # process every vid_stride-th frame (1: all); time and tracker steps span the skipped ones


class PipelineConfig(Strict):
    queue_size: PositiveInt  # files: frames detected and embedded ahead of tracking and writing; live sources: 1


class DetectorConfig(Strict):
    name: DETECTORS.literal
    weights: str | None  # None: the packaged YOLOX-Nano, yolo11n.pt for `yolo`, torchvision's default for `torchvision`
    model: str | None  # `torchvision`: architecture name, e.g. fasterrcnn_resnet50_fpn_v2; unused by the others
    conf_threshold: Prob
    nms_iou: Prob
    input_size: PositiveInt | None  # network input side (torchvision: shorter side); null: the model's own
    classes: list[str | int] | None  # names or ids to keep; None keeps all
    device: str  # auto | cpu | cuda | cuda:N
    det_file: str | None  # `mot`: path to det.txt; None: <sequence>/det/det.txt
    batch_size: PositiveInt  # frames per detector call for file sources
    max_detections: PositiveInt
    half: bool  # fp16 on CUDA
    threads: PositiveInt | None  # yolox on CPU: threads of its session; None: every core (batch workers set it)


class AppearanceConfig(Strict):
    name: EMBEDDERS.literal
    weights: str | None  # None: the packaged model (OSNet-x0.25 for `osnet`, the distilled ResNet for `resnet`)
    arch: Literal["resnet18", "resnet34", "resnet50", "tracker_resnet34", "resnet18_x0_5", "resnet18_x0_25"]
    embedding_dim: Annotated[int, Field(ge=0)]  # resnet projection size; 0 keeps the backbone width
    crop_size: tuple[PositiveInt, PositiveInt] | None  # (height, width); None: the model's own input size
    batch_size: PositiveInt  # crops per forward pass
    device: str  # auto | cpu | cuda | cuda:N
    half: bool  # fp16 on CUDA for `resnet`; the OSNet ONNX always runs fp32
    flip: bool  # also embed each crop's mirror image and average the two unit vectors (twice the cost)
    threads: PositiveInt | None  # osnet on CPU: threads of its session; None: see tracker.pipeline.embedder_config
    allow_random_weights: bool  # tests only: run resnet with untrained weights


class KalmanConfig(Strict):
    """Noise of the constant-velocity Kalman filter.

    Velocities are in pixels per second and noise grows with the time step, so the
    filter behaves the same at any frame rate. Standard deviations are relative to box
    height (and width for the xywh state).
    """

    state: Literal["xyah", "xywh"]
    std_position: Positive  # process noise of position, per sqrt(second)
    std_velocity: Positive  # process noise of velocity, per second per sqrt(second)
    std_measurement: Positive  # measurement noise of a detection box
    std_aspect: Positive  # xyah: process noise of the aspect ratio, per sqrt(second)
    std_aspect_velocity: Positive  # xyah: process noise of the aspect ratio velocity
    std_aspect_measurement: Positive  # xyah: measurement noise of the aspect ratio
    init_std_position: Positive  # initial uncertainty of a new track's position
    init_std_velocity: Positive  # initial uncertainty of a new track's velocity (per second)
    init_std_aspect: Positive  # xyah: initial uncertainty of a new track's aspect ratio
    init_std_aspect_velocity: Positive  # xyah: initial uncertainty of its aspect ratio velocity (per second)
    nsa: bool  # NSA (StrongSORT): a detection's measurement variance times 1 - its score
    # second: the noise values above are per second (the filter behaves the same at any frame rate);
    # frame: they are per frame of the source, as in the SORT / ByteTrack / BoT-SORT papers' code (the
    # paper presets), converted at the source's frame rate (tracker.tracking.kalman.per_second)
    noise_unit: Literal["second", "frame"]
    # keep: a lost track keeps predicting its size with the velocity it had; zero: its size velocities (xyah:
    # height, xywh: width and height) are set to 0 before each prediction, as the ByteTrack / BoT-SORT papers' code
    lost_size_velocity: Literal["keep", "zero"]


class CMCConfig(Strict):
    method: Literal["none", "auto", "sparse", "ecc", "orb"]  # auto: sparse, applied only when the camera moves
    downscale: PositiveInt  # estimate on a frame shrunk by this factor
    max_features: PositiveInt  # sparse / orb: keypoints per frame
    ecc_iterations: PositiveInt
    ecc_eps: Positive


class BaseTrackerConfig(Strict):
    max_age: Positive  # how long a lost track is kept for re-identification
    max_age_unit: Literal["frames", "seconds"]
    n_init: PositiveInt  # consecutive hits before a track is confirmed
    new_track_thresh: Prob  # minimum detection score to start a track
    score_scale: Literal["absolute", "relative"]  # relative: every score threshold is a fraction of a running high
    # quantile of this video's detection scores (any detector's score range), see tracking/scores.py
    score_quantile: Prob  # relative: the quantile that counts as a confident detection
    new_track_max_iou: Annotated[float, Field(gt=0.0, le=1.0)]  # TrackTrack's track-aware initialisation: no new track
    # from a detection overlapping a live track or a better candidate by more than this IoU (1: off)
    per_class: bool  # never associate detections of one class with tracks of another
    output_lost: bool  # also report tracks that are only predicted this frame
    box_similarity: Literal["iou", "hmiou"]  # overlap measure of every IoU stage; hmiou: Hybrid-SORT's height-modulated IoU
    iou_buffer: Annotated[float, Field(ge=0.0)]  # C-BIoU: boxes grow by this fraction of their size on each side before
    # the overlap is measured (0: plain boxes)
    # hungarian: the most pairs under the gate, then the least cost; iterative: TrackTrack's rounds of mutually best
    # pairs; margin: the largest total of (gate - cost), as the ByteTrack / BoT-SORT papers' lapjv call (paper presets)
    assignment: Literal["hungarian", "iterative", "margin"]
    iterative_step: Annotated[float, Field(ge=0.0)]  # iterative: the cost threshold drops by this each round
    observation_reupdate: bool  # OC-SORT's ORU: a track found after a gap re-runs its filter over the gap on
    # observations interpolated between the two it was seen at
    predict_tentative: bool  # false: a tentative track is matched and updated at its last state, not predicted
    # (the ByteTrack / BoT-SORT papers' code does not predict its unconfirmed tracks)
    duplicate_iou: Annotated[float, Field(gt=0.0, le=1.0)]  # a track matched or born this frame and a lost one whose
    # boxes overlap by more than this IoU are one object: the younger goes (the papers' code: 0.85; 1: off)
    expiry_lag_frames: Annotated[int, Field(ge=0)]  # a lost track stays matchable this many frames past max_age (the
    # papers' code: 1, its lost list drops a removed track only at the end of the next frame)
    kalman: KalmanConfig
    name: str  # a name in TRACKERS, which picks the class of the section (written after kalman, as always)


class SortConfig(BaseTrackerConfig):
    min_iou: Annotated[float, Field(gt=0.0, le=1.0)]  # pairs below this IoU never match


class DeepSortConfig(BaseTrackerConfig):
    max_cosine_distance: Prob  # appearance gate
    nn_budget: PositiveInt  # features kept per track
    max_iou_distance: IouGate  # IoU fallback gate (1 - IoU)
    gating_chi2: Positive  # Mahalanobis gate: chi-square quantile for 4 degrees of freedom
    appearance_weight: Prob  # 1.0 appearance only, 0.0 Mahalanobis only (DeepSORT's 1 - lambda)


class ByteTrackConfig(BaseTrackerConfig):
    track_high_thresh: Prob  # first association uses detections at or above this score
    track_low_thresh: Prob  # second association uses the rest above this score
    match_thresh: IouGate  # max cost (1 - IoU) in the first association
    second_match_thresh: IouGate  # max cost in the low-score association
    unconfirmed_match_thresh: IouGate  # max cost when matching tentative tracks
    fuse_score: bool  # weight IoU by detection score
    direction_weight: Annotated[float, Field(ge=0.0)]  # OC-SORT's OCM: cost added per unit of heading change (a
    # fraction of pi) times the detection score, in the high-score stages (0: off)
    direction_window_s: Positive  # OCM: heading from a sighting at least this long before the latest one
    score_boost: Prob  # BoostTrack's DLO confidence boost: a detection's score is at least this times its best IoU
    # with a predicted track (0: off)
    shape_weight: Annotated[float, Field(ge=0.0)]  # BoostTrack's shape similarity boost: the high-score stages' cost
    # drops by this times score times shape similarity (0: off)


class BotSortConfig(ByteTrackConfig):
    with_reid: bool
    proximity_thresh: IouGate  # appearance only counts for pairs with IoU above 1 - this
    appearance_thresh: Prob  # appearance only counts for cosine distance below this
    appearance_reject_thresh: Prob  # pairs whose (halved) cosine distance exceeds this never match; 1 disables
    ema_alpha: Prob  # feature smoothing: new = alpha * old + (1 - alpha) * detection
    embed_on_demand: bool  # embed only detections whose appearance can change a decision (see tracking/botsort.py)
    feature_refresh_s: Annotated[float, Field(ge=0.0)]  # on demand: re-embed a track seen alone after this long
    low_score_features: bool  # false: detections below track_high_thresh carry no appearance, so a track matched to
    # one keeps its feature (the paper's code embeds high-score detections only; on demand never embeds them)
    reid_gallery: Annotated[int, Field(ge=0)]  # re-identify lost tracks by appearance: features kept per track (0: off)
    reid_thresh: Prob  # most (halved) cosine distance to the nearest gallery feature for a re-identification
    reid_max_speed: Positive  # box heights per second a lost person may have moved since last seen
    cmc: CMCConfig


# Trackers by name, with the schema of their section; each policy class registers for its config class
# (tracker.tracking.core.Tracker).
TRACKERS = Registry("tracker", {
    "sort": SortConfig, "deepsort": DeepSortConfig, "bytetrack": ByteTrackConfig, "botsort": BotSortConfig,
})  # fmt: skip


def _section_name(section: Any) -> Any:
    return section.get("name") if isinstance(section, dict) else getattr(section, "name", None)


# The tracker section: the class its name registers (an unknown name is pydantic's union_tag_invalid).
TrackerConfig = Annotated[
    Union[tuple(Annotated[schema, Tag(name)] for name, schema in TRACKERS.items())], Discriminator(_section_name)
]


class OutputConfig(Strict):
    video: bool
    csv: bool
    mot: bool
    codec: str  # h264 (PyAV, browser-playable MP4) or an OpenCV fourcc (mp4v, MJPG, ...)
    crf: Annotated[int, Field(ge=0, le=51)]  # h264 quality: lower is better and larger (x264's constant rate factor)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
    keyframe_interval_s: Annotated[float, Field(gt=0.0)]  # h264: a keyframe (and a file fragment) this often
    trail_length: Annotated[int, Field(ge=0)]  # frames of trail drawn behind each track
    line_thickness: PositiveInt
    show: bool  # live window
    flush_every: PositiveInt  # frames between explicit flushes of text outputs
    jsonl: bool  # tracks.jsonl: one JSON object per frame (same data as tracks.csv)
    summary: bool  # summary.csv: one row per track (first/last frame, duration, path length, mean score)
    blur_classes: list[str]  # class names whose boxes are blurred in the video / window (privacy), e.g. [person]
    blur_method: Literal["pixelate", "gaussian"]
    save_crops: bool  # crops/<track_id>/<frame>.jpg of matched tracks (never of blur_classes), bounded below
    crops_per_track: PositiveInt  # at most this many crops of one track
    crops_interval_s: Annotated[float, Field(ge=0.0)]  # at least this long between two crops of one track
    crops_max_files: PositiveInt  # crops of the whole run; then cropping stops with a warning


Point = tuple[float, float]  # x, y in pixels of the source frame


class CountingLineConfig(Strict):
    """A directed counting line: "in" is a crossing from its left side to its right side (as seen on screen)."""

    name: Annotated[str, Field(min_length=1)]
    points: Annotated[list[Point], Field(min_length=2, max_length=2)]

    @model_validator(mode="after")
    def _distinct(self) -> "CountingLineConfig":
        if self.points[0] == self.points[1]:
            raise ValueError(f"line {self.name!r} has two identical points; give two different [x, y] points")
        return self


class CountingZoneConfig(Strict):
    """A polygon zone whose occupancy (tracks inside, per class) is counted every frame."""

    name: Annotated[str, Field(min_length=1)]
    polygon: Annotated[list[Point], Field(min_length=3)]


class CountingConfig(Strict):
    enabled: bool
    anchor: Literal["bottom_center", "center"]  # the point of a box that crosses lines and sits in zones
    hysteresis_px: Annotated[float, Field(ge=0.0)]  # a side counts only this far from the line (no double counts)
    lines: list[CountingLineConfig]
    zones: list[CountingZoneConfig]

    @model_validator(mode="after")
    def _check(self) -> "CountingConfig":
        names = [c.name for c in self.lines] + [z.name for z in self.zones]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"names of lines and zones must be unique; {', '.join(map(repr, dupes))} repeats")
        if self.enabled and not names:
            raise ValueError("counting is enabled but has no lines or zones; add some or set counting.enabled=false")
        return self


class SmoothingConfig(Strict):
    """Post-processing of a finished run (on by default; ``--no-smooth``): gap filling, then an RTS smoother,
    along the camera's motion when the tracker compensated one.

    Gaps are in seconds and noise is relative to the track's median box height, per second, so the
    smoother behaves the same at any frame rate and image size.
    """

    enabled: bool
    max_gap_s: Annotated[float, Field(ge=0.0)]  # fill a track's gaps of up to this many seconds; 0 fills none
    max_gap_ratio: Annotated[float, Field(ge=0.0)]  # and of at most this many times the frames the track was seen in
    compensate_camera: bool  # fill and smooth in the first frame's coordinates, following camera_motion.csv
    std_position: Positive  # process noise of centre and size, per sqrt(second)
    std_velocity: Positive  # process noise of their velocities, per second per sqrt(second)
    std_measurement: Positive  # noise of a reported box


class ServeConfig(Strict):
    """``--serve``: a browser view of the run (tracker.io.serve)."""

    port: Annotated[int, Field(ge=0, le=65535)] | None  # null: off; 0 picks a free port
    host: Annotated[str, Field(min_length=1)]  # address to bind; anything but loopback needs a token
    token: Annotated[str, Field(min_length=8)] | None  # what page and stream require; null: generated off loopback
    jpeg_quality: Annotated[int, Field(ge=1, le=100)]
    max_clients: PositiveInt  # simultaneous video streams; more are refused (503)
    client_timeout_s: Positive  # a viewer that accepts no data for this long is dropped
    status_interval_s: Positive  # how often counts and tracks are published and the page polls them


class ChunksConfig(Strict):
    """One file tracked as overlapping parts in parallel (``--chunks K``), then stitched (tracker.scale.chunks)."""

    overlap_s: Annotated[float, Field(ge=0.0)]  # seconds each part shares with the next; tracks are matched there
    min_iou: Prob  # a track crosses a cut when its mean box IoU with the next part's track, over the shared frames
    # of the shorter of the two, reaches this (pairs chosen by Hungarian on 1 - that mean)


class BatchConfig(Strict):
    """The Ray workers of ``tracker batch`` and ``--chunks`` (tracker.scale.executors)."""

    # auto: on a local Ray instance the batch started itself, each worker's whole process (every pipeline thread) is
    # pinned to its own --threads-per-worker cores; never on a cluster it joined. false: never pinned
    pin_cores: Literal["auto", False]


class Config(Strict):
    source: SourceConfig
    pipeline: PipelineConfig
    detector: DetectorConfig
    appearance: AppearanceConfig
    tracker: TrackerConfig
    output: OutputConfig
    counting: CountingConfig
    smoothing: SmoothingConfig
    serve: ServeConfig
    chunks: ChunksConfig
    batch: BatchConfig

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _read_yaml(path: Path) -> dict:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", "Check the path given to --config") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"invalid YAML in {path}{where}", "Fix the syntax (indentation, colons, quotes)") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping of sections, not a {type(data).__name__}",
            "Write it as 'section:' lines with indented 'key: value' pairs, e.g. 'tracker:' then '  max_age: 60'",
        )
    data = {section: value for section, value in data.items() if value is not None}  # an empty 'section:' changes nothing
    for section, value in data.items():
        if not isinstance(value, dict):
            raise ConfigError(
                f"section {section!r} in {path} must be a mapping of keys, not a {type(value).__name__}",
                f"Indent its keys under '{section}:', e.g. '  name: botsort'",
            )
    return data


def _merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML (numbers, booleans, lists, null)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"bad override {text!r}", "Write it as section.key=value, e.g. tracker.max_age=60")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def _set_path(data: dict, path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            raise ConfigError(f"unknown config key {'.'.join(path)!r}", f"{part!r} is not a section")
        node = child
    node[path[-1]] = value


def _override_items(overrides: list[str] | dict[str, Any] | None) -> list[tuple[list[str], Any]]:
    items = list(overrides.items()) if isinstance(overrides, dict) else [parse_override(o) for o in overrides or []]
    return [(k.split(".") if isinstance(k, str) else list(k), v) for k, v in items]


def apply_overrides(config: "Config", overrides: list[str] | dict[str, Any]) -> "Config":
    """A new validated Config with ``overrides`` applied to ``config``."""
    data = config.model_dump(mode="json")
    return validate(data, _set_all(data, _override_items(overrides)))


def overrides_for_tracker(overrides: list[str], name: str | None, names: list[str | None]) -> list[str]:
    """``overrides`` for tracker ``name`` when ``names`` are compared on one command line: a ``tracker.*`` key
    that ``name``'s configs/<name>.yaml lacks but another listed tracker has is left out (``--set
    tracker.appearance_thresh=0.3`` with ``--tracker sort,botsort`` sets BoT-SORT's); a key none of them has
    is kept, so that loading reports it. With one tracker, every override is kept."""
    if name is None or len(names) < 2:
        return list(overrides)

    def has(tracker: str, path: list[str]) -> bool:
        node: Any = tracker_defaults(tracker)
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    kept = []
    for text in overrides:
        path, _ = parse_override(text)
        if path[0] == "tracker" and path != ["tracker", "name"] and not has(name, path):
            if any(has(other, path) for other in names):
                continue
        kept.append(text)
    return kept


def default_value(key: str) -> Any:
    """The value of ``key`` (``section.name``) in configs/default.yaml, e.g. to tell a default from a choice."""
    node: Any = _values(_read_yaml(CONFIG_DIR / "default.yaml"))
    for part in key.split("."):
        node = node[part]
    return node


def _is_tunable(node: Any) -> bool:
    return isinstance(node, dict) and {"default", "range"} <= set(node) and set(node) <= TUNABLE_KEYS


def _values(node: Any) -> Any:
    """``node`` with every ``{default: v, range: ...}`` replaced by ``v``."""
    if _is_tunable(node):
        return node["default"]
    if isinstance(node, dict):
        return {key: _values(value) for key, value in node.items()}
    return node


def _tracker_yaml(name: str) -> dict:
    TRACKERS[name]  # ConfigError for an unknown name
    return _read_yaml(CONFIG_DIR / f"{name}.yaml")


def tracker_defaults(name: str) -> dict:
    """``configs/<name>.yaml`` as plain values."""
    return _values(_tracker_yaml(name))


def search_ranges(name: str) -> dict[str, dict]:
    """The tunables of ``configs/<name>.yaml``, in file order: their dotted key in the tracker section ->
    ``{default, range: [low, high], log (search on a log scale), when (a boolean key that must be on)}``.

    A range that does not hold its default is a ConfigError, so trial 1 of ``tracker tune`` is the default.
    """
    out: dict[str, dict] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            if _is_tunable(value):
                low, high = value["range"]
                if not low <= value["default"] <= high:
                    raise ConfigError(f"configs/{name}.yaml: tracker.{prefix}{key}: default {value['default']} is "
                                      f"outside its range {value['range']}", "Widen the range or change the default")
                out[prefix + key] = value
            elif isinstance(value, dict):
                walk(value, f"{prefix}{key}.")

    walk(_tracker_yaml(name)["tracker"], "")
    return out


def _format_validation_error(err: dict) -> str:
    """One of pydantic's ``ValidationError.errors()`` as the YAML key and what is wrong with it."""
    loc = [str(p) for p in err["loc"]]
    # drop pydantic's union tag (e.g. 'botsort') from the path so it reads as the YAML key
    if len(loc) > 1 and loc[0] == "tracker" and loc[1] in TRACKERS:
        loc = [loc[0]] + loc[2:]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        return f"unknown config key {key!r}"
    if err["type"] == "missing":
        return f"missing config key {key!r}"
    if err["type"] == "union_tag_invalid":
        return f"unknown tracker name {err['input']!r} at {key!r}; choose one of: {', '.join(TRACKERS.names)}"
    msg = err["msg"]
    if err["type"] == "value_error":  # our own validators' messages, without pydantic's "Value error, " prefix
        msg = str(err.get("ctx", {}).get("error", msg))
    if "input" in err and not isinstance(err["input"], dict):
        msg += f" (got {err['input']!r})"
    return f"{key}: {msg}" if key else msg


def validate(data: dict, problems: list[str] | None = None) -> Config:
    """``data`` as a Config; one ConfigError listing every problem, ``problems`` found before validation first."""
    problems = list(problems or [])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems += [_format_validation_error(err) for err in exc.errors()]
    if len(problems) == 1:
        raise ConfigError(problems[0], "Fix it in your YAML or with --set")
    if problems:
        raise ConfigError(f"{len(problems)} config errors: {'; '.join(problems)}", "Fix them in your YAML or with --set")
    return config


def _set_all(data: dict, items: list[tuple[list[str], Any]]) -> list[str]:
    """Apply every override to ``data``; the problems of those whose section does not exist."""
    problems = []
    for key, value in items:
        try:
            _set_path(data, key, value)
        except ConfigError as exc:
            problems.append(f"{exc.problem} ({exc.fix})")
    return problems


def load_config(
    path: str | Path | None = None,
    tracker: str | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> Config:
    """Build a validated :class:`Config`.

    path: a user YAML whose sections are merged over the defaults.
    tracker: a tracker name whose ``configs/<name>.yaml`` replaces the tracker section.
    overrides: ``["tracker.max_age=60"]`` or ``{"tracker.max_age": 60}``.

    The tracker is ``overrides``' ``tracker.name``, else ``tracker``, else the one the user file names,
    else the default. A user file's tracker section belongs to the tracker it names (a saved run's
    config.yaml names its tracker): when another tracker is chosen, that section is left out, with a
    warning, and the chosen tracker's ``configs/<name>.yaml`` applies; the file's other sections are
    used all the same. A tracker section that names no tracker is merged over the chosen one.
    Every problem is reported at once, in one ConfigError.
    """
    items = _override_items(overrides)
    data = _values(_read_yaml(CONFIG_DIR / "default.yaml"))
    user = _values(_read_yaml(Path(path))) if path is not None else {}
    user_tracker = user.get("tracker") if isinstance(user.get("tracker"), dict) else {}
    name = tracker or user_tracker.get("name")
    for key, value in items:
        if key == ["tracker", "name"]:
            name = value
    name = str(name or data["tracker"]["name"])
    data["tracker"] = tracker_defaults(name)["tracker"]
    named = user_tracker.get("name")
    if named is not None and str(named) != name:
        log.warning(
            "%s: its tracker section is for %s, so it is left out: tracker %s starts from configs/%s.yaml "
            "(the file's other sections apply)", path, named, name, name,
        )  # fmt: skip
        user = {section: value for section, value in user.items() if section != "tracker"}
    data = _merge(data, user)
    data["tracker"]["name"] = name
    return validate(data, _set_all(data, items))
