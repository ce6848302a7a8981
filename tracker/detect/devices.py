"""Which device a model runs on: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, checked against what torch sees
(the ONNX models ask onnxruntime: :func:`~tracker.detect.onnx_session.onnx_device`)."""

from __future__ import annotations

import re

from ..errors import ConfigError

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device(spec: str) -> str:
    """``spec`` lower-cased; ConfigError unless it is auto, cpu, cuda or cuda:N."""
    spec = spec.strip().lower()
    if not _DEVICE_PATTERN.match(spec):
        raise ConfigError(f"unknown device {spec!r}", "Use auto, cpu, cuda or cuda:N")
    return spec


def resolve_device(spec: str) -> str:
    """For torch models: 'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cpu', 'cuda' and 'cuda:N' are
    checked and returned. The ONNX models ask onnxruntime instead (:func:`~tracker.detect.onnx_session.onnx_device`)."""
    spec = check_device(spec)
    if spec == "cpu":
        return spec
    import torch  # only to look for a GPU: a CPU run never imports it here

    available = torch.cuda.is_available()
    if spec == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise ConfigError(f"device {spec!r} requested but CUDA is not available", "Set the device to auto or cpu")
    index = int(spec.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist",
            f"Use cuda:0 .. cuda:{torch.cuda.device_count() - 1}",
        )
    return spec
