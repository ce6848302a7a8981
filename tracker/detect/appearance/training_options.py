"""The options of ``tracker train-reid`` (:class:`TrainOptions`), importable without torch.

``tracker --help`` builds every subcommand's parser, which shows these defaults, so they
live apart from the training code (:mod:`.training`, which needs torch).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError

MIN_CROPS_PER_ID = 2  # an identity needs a positive pair: fewer usable crops and it is dropped
MIN_IDS_PER_SIDE = 2  # training needs negatives in a batch and validation needs distractors
TEACHER_INPUTS = ("clean", "augmented")  # what the teacher embeds: see TrainOptions.teacher_input


@dataclass
class TrainOptions:
    """Hyper-parameters of ``tracker train-reid`` (CLI arguments, not tracking config); defaults documented inline."""

    init: str  # "random" (He init) or a torchvision / torchreid / tracker-reid-v1 checkpoint to start from
    arch: str = "resnet18_x0_25"  # resnet18 | resnet34 | resnet50 | tracker_resnet34 | resnet18_x0_5 | resnet18_x0_25
    embedding_dim: int = 0  # linear projection after pooling; 0 keeps the backbone width (appearance.embedding_dim)
    crop_size: tuple[int, int] = (128, 64)  # (height, width) of crops; appearance.crop_size must match
    epochs: int = 6
    batch_p: int = 8  # identities per batch (fewer when fewer are available for training)
    batch_k: int = 4  # crops per identity per batch
    batch_unlabelled: int = 32  # detection crops per batch, learning from the teacher alone
    lr: float = 2e-3  # AdamW peak learning rate (linear warm-up, then cosine decay to 0)
    weight_decay: float = 5e-4  # AdamW decoupled weight decay
    margin: float = 0.3  # batch-hard triplet margin on Euclidean distances of unit vectors (0..2)
    label_smoothing: float = 0.1  # cross-entropy label smoothing of the identity classifier
    identity_weight: float = 1.0  # weight of cross-entropy + batch-hard triplet on the labelled crops (0: teacher only)
    teacher: str | None = None  # ReID .onnx distilled from; None: the packaged OSNet-x0.25; "none": labels only
    teacher_input: str = "clean"  # clean: the teacher's embedding of the clean crop, cut once and cached;
    # augmented: of the very view the student sees (upsampled to the teacher's input), computed every step
    mixup: float = 0.0  # > 0 (needs teacher_input augmented): each unlabelled view is blended with another, weight
    # drawn from Beta(mixup, mixup), and the student matches the teacher on the blend ("function matching")
    distill_weight: float = 5.0  # weight of 1 - cosine(student -> teacher space, teacher) per crop
    relation_weight: float = 10.0  # weight of the mean squared difference of the batch's cosine-similarity matrices
    det_every: int = 2  # unlabelled crops: run the detector on every n-th frame (0: no detection crops)
    det_conf: float = 0.5  # detector score a detection needs to become a crop
    max_detection_crops: int = 3000  # detection crops kept per footage (a seeded sample when there are more)
    val_fraction: float = 0.0  # share of identities held out for validation; 0 turns validation off
    max_crops_per_id: int = 32  # crops kept per identity, spread evenly over its lifetime
    min_visibility: float = 0.3  # MOT16/17 gt: skip boxes less visible than this (MOT15 gt has no visibility)
    min_height: float = 32.0  # skip gt boxes and detections shorter than this many pixels
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0  # identity split, initial weights, batch sampling and augmentation
    cache: str | None = None  # folder keeping each footage's crops and teacher vectors between runs
    progress: bool = True  # tqdm progress bar and per-epoch lines on stderr

    def check(self) -> None:
        """ConfigError naming the first out-of-range option."""
        rules = [
            ("epochs", self.epochs >= 1, ">= 1"),
            ("batch_p", self.batch_p >= MIN_IDS_PER_SIDE, f">= {MIN_IDS_PER_SIDE}"),
            ("batch_k", self.batch_k >= MIN_CROPS_PER_ID, f">= {MIN_CROPS_PER_ID}"),
            ("batch_unlabelled", self.batch_unlabelled >= 0, ">= 0"),
            ("identity_weight", self.identity_weight >= 0, ">= 0"),
            ("teacher_input", self.teacher_input in TEACHER_INPUTS, " or ".join(TEACHER_INPUTS)),
            ("mixup", self.mixup >= 0, ">= 0"),
            ("mixup", self.mixup == 0 or self.teacher_input == "augmented", "0 unless --teacher-input augmented"),
            ("distill_weight", self.distill_weight >= 0, ">= 0"),
            ("relation_weight", self.relation_weight >= 0, ">= 0"),
            ("det_every", self.det_every >= 0, ">= 0"),
            ("det_conf", 0 <= self.det_conf <= 1, "in [0, 1]"),
            ("max_detection_crops", self.max_detection_crops >= 0, ">= 0"),
            ("lr", self.lr > 0, "> 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("margin", self.margin >= 0, ">= 0"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("val_fraction", 0 <= self.val_fraction < 1, "in [0, 1)"),
            ("max_crops_per_id", self.max_crops_per_id >= MIN_CROPS_PER_ID, f">= {MIN_CROPS_PER_ID}"),
            ("min_visibility", 0 <= self.min_visibility <= 1, "in [0, 1]"),
            ("min_height", self.min_height >= 0, ">= 0"),
            ("embedding_dim", self.embedding_dim >= 0, ">= 0"),
            ("crop_size", len(self.crop_size) == 2 and min(self.crop_size) >= 1, "two positive integers H W"),
        ]
        for name, ok, want in rules:
            if not ok:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} {getattr(self, name)!r} is out of range", f"Give {flag} {want}")
