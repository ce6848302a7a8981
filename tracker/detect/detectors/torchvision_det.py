"""TorchVision COCO detectors (Faster R-CNN, FCOS, RetinaNet, SSD, SSDlite).

``detector.model`` names the architecture. With ``detector.weights`` null, torchvision's
COCO weights are used (downloaded once into ~/.cache/torch); otherwise ``weights`` is a
local state dict (``.pth``) for that architecture with the 91 COCO labels. Class ids are
torchvision's COCO labels (1 = person; ``class_names`` lists them, with ``__background__``
and ``N/A`` placeholders). Each model resizes its input itself: for Faster R-CNN, FCOS and
RetinaNet ``detector.input_size`` sets the shorter side it resizes to (null: torchvision's 800);
the SSDs have a fixed input. ``detector.half`` does not apply. On CUDA the model takes the
frames the pipeline already uploaded (:mod:`tracker.detect.frames`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision

from ...config import DetectorConfig
from ...errors import ConfigError, ModelError
from ...structures import Detections
from ..checkpoints import load_checkpoint
from ..devices import resolve_device
from ..frames import upload_frames
from .common import OutputFilter

# Keyword names each architecture's builder uses for its score threshold, NMS IoU and output cap.
_RCNN_ARGS = ("box_score_thresh", "box_nms_thresh", "box_detections_per_img")
_DENSE_ARGS = ("score_thresh", "nms_thresh", "detections_per_img")
MODELS: dict[str, tuple[str, str, str]] = {
    "fasterrcnn_resnet50_fpn_v2": _RCNN_ARGS,
    "fcos_resnet50_fpn": _DENSE_ARGS,
    "retinanet_resnet50_fpn_v2": _DENSE_ARGS,
    "ssd300_vgg16": _DENSE_ARGS,
    "ssdlite320_mobilenet_v3_large": _DENSE_ARGS,
}
FIXED_SIZE_MODELS = ("ssd300_vgg16", "ssdlite320_mobilenet_v3_large")  # no min_size / max_size to set
MAX_TO_MIN_SIDE = 1333 / 800  # torchvision's GeneralizedRCNNTransform defaults: longer side cap / shorter side
PIXEL_MAX = 255.0  # torchvision detectors take RGB floats in 0..1


def _model_name(name: str | None) -> str:
    if name not in MODELS:
        got = "no detector.model" if name is None else f"unknown torchvision model {name!r}"
        raise ConfigError(f"{got} for detector 'torchvision'", f"Set detector.model to one of: {', '.join(MODELS)}")
    return name


def _read_state_dict(path: Path) -> dict:
    checkpoint = load_checkpoint(path, "weights", "Give an existing .pth state dict with --set detector.weights=PATH")
    # torchvision's reference training scripts save {"model": state_dict, "optimizer": ...}
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        checkpoint = checkpoint["model"]
    if not isinstance(checkpoint, dict):
        raise ModelError(f"{path} holds a {type(checkpoint).__name__}, not a state dict", "Save model.state_dict()")
    return checkpoint


def build_model(cfg: DetectorConfig) -> torch.nn.Module:
    """The architecture ``cfg.model`` with its thresholds from ``cfg``, weights loaded, in eval mode on CPU."""
    name = _model_name(cfg.model)
    score_arg, nms_arg, cap_arg = MODELS[name]
    options = {score_arg: cfg.conf_threshold, nms_arg: cfg.nms_iou, cap_arg: cfg.max_detections}
    if cfg.input_size is not None:
        if name in FIXED_SIZE_MODELS:
            raise ConfigError(f"detector.input_size does not apply to {name}, whose input size is fixed",
                              "Set detector.input_size to null")  # fmt: skip
        options.update(min_size=cfg.input_size, max_size=round(cfg.input_size * MAX_TO_MIN_SIDE))
    if cfg.weights is None:
        try:
            model = torchvision.models.get_model(name, weights="DEFAULT", **options)
        except (OSError, RuntimeError) as exc:  # URLError when offline, RuntimeError on a bad download hash
            raise ModelError(
                f"could not download torchvision's COCO weights for {name}: {exc}",
                "Connect once to the internet (they are cached in ~/.cache/torch) or give a local "
                ".pth state dict with --set detector.weights=PATH",
            ) from exc
    else:
        path = Path(cfg.weights).expanduser()
        state = _read_state_dict(path)
        num_classes = len(torchvision.models.get_model_weights(name).DEFAULT.meta["categories"])
        model = torchvision.models.get_model(
            name, weights=None, weights_backbone=None, num_classes=num_classes, **options
        )
        _load_state(model, state, f"{path} does not fit torchvision's {name}")
    return model.eval()


def _load_state(model: torch.nn.Module, state: dict, problem: str) -> None:
    """``model.load_state_dict(state)`` with a one-line ModelError for missing, extra or misshapen tensors."""
    fix = "Give a state dict saved from this architecture with the 91 COCO labels, or change detector.model"
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        example = (missing or unexpected)[0]
        counts = f"{len(missing)} missing and {len(unexpected)} unexpected keys"
        raise ModelError(f"{problem}: {counts} (e.g. {example!r})", fix)
    misshapen = [k for k, v in expected.items() if getattr(state[k], "shape", None) != v.shape]
    if misshapen:
        key = misshapen[0]
        got, want = tuple(getattr(state[key], "shape", ())), tuple(expected[key].shape)
        raise ModelError(f"{problem}: {key!r} has shape {got}, expected {want}", fix)
    model.load_state_dict(state)


class TorchvisionDetector:
    """A torchvision detection model run on a list of frames at once."""

    def __init__(self, cfg: DetectorConfig, source: str | None = None):  # the source: only `mot` reads it
        name = _model_name(cfg.model)
        self.class_names = list(torchvision.models.get_model_weights(name).DEFAULT.meta["categories"])
        self.filter = OutputFilter.from_config(cfg, self.class_names)
        self.device = torch.device(resolve_device(cfg.device))
        self.frames_device = self.device if self.device.type == "cuda" else None  # see tracker.detect.frames
        self.model = build_model(cfg).to(self.device)

    @torch.inference_mode()
    def detect(
        self, images: list[np.ndarray], frame_indices: list[int], uploaded: list[torch.Tensor] | None = None
    ) -> list[Detections]:
        """Detections of each BGR frame; ``uploaded``: the same frames as (H,W,3) uint8 tensors on the device."""
        if not images:
            return []
        frames = uploaded if uploaded is not None else upload_frames(images, self.device)
        # (3,H,W) RGB in 0..1, as torchvision's detectors take them
        outputs = self.model([frame.permute(2, 0, 1).flip(0).float().div_(PIXEL_MAX) for frame in frames])
        return [
            self.filter.apply(*(out[k].cpu().numpy() for k in ("boxes", "scores", "labels")), image.shape)
            for image, out in zip(images, outputs)
        ]
