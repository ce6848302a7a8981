"""One place that opens onnxruntime sessions for the packaged ONNX models (YOLOX, OSNet)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from ..errors import ModelError
from .devices import check_device

log = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"

LOAD_ERRORS = (
    ort_state.InvalidProtobuf,
    ort_state.InvalidGraph,
    ort_state.InvalidArgument,
    ort_state.NoSuchFile,
    ort_state.NotImplemented,
    ort_state.Fail,
    ort_state.RuntimeException,
)
RUN_ERRORS = (ort_state.InvalidArgument, ort_state.Fail, ort_state.RuntimeException)


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Options for a session computing on ``threads`` CPU threads (None: every core this process may use)."""
    options = ort.SessionOptions()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    options.intra_op_num_threads = threads or cores or 1
    options.inter_op_num_threads = 1  # the graphs are single chains: no gain from parallel branches
    # Idle intra-op threads sleep instead of spinning. The pipeline runs YOLOX and OSNet one after
    # the other in its detection thread while decoding, tracking and video encoding run in others:
    # spinning threads of one session steal the cores from everything else. Measured on 2 cores,
    # vtest.avi, default pipeline: 16.4 fps spinning, 24.5 fps sleeping (detector alone: 57 vs 53).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def onnx_device(spec: str) -> str:
    """``detector.device`` / ``appearance.device`` for an ONNX model: 'auto' -> 'cuda' when onnxruntime has its
    CUDA provider, else 'cpu'. Asks onnxruntime, not torch: the ONNX models never import torch (seconds at start-up).
    """
    spec = check_device(spec)
    if spec == "auto":
        return "cuda" if CUDA_PROVIDER in ort.get_available_providers() else "cpu"
    return spec


def providers(device: str, label: str) -> list:
    """Execution providers for a resolved device ('cpu', 'cuda', 'cuda:N'); CPU when onnxruntime lacks CUDA."""
    if device.startswith("cuda"):
        if CUDA_PROVIDER in ort.get_available_providers():
            index = int(device.partition(":")[2] or 0)
            return [(CUDA_PROVIDER, {"device_id": index}), "CPUExecutionProvider"]
        log.warning("onnxruntime has no CUDA support here (install onnxruntime-gpu); running %s on the CPU", label)
    return ["CPUExecutionProvider"]


def model_metadata(path: str | Path) -> dict[str, str]:
    """The custom metadata of an ONNX file (e.g. Ultralytics' exports say ``author: Ultralytics``); {} when it
    cannot be read (the detector that loads it reports why)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # only the metadata is wanted
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except LOAD_ERRORS:
        return {}
    return dict(session.get_modelmeta().custom_metadata_map)


def open_session(
    model: str | bytes, device: str, label: str, path: Path, fix: str, threads: int | None = None
) -> ort.InferenceSession:
    """An InferenceSession for a model file path or serialised bytes; ModelError naming ``path`` if it fails."""
    try:
        options = session_options(threads)
        return ort.InferenceSession(model, sess_options=options, providers=providers(device, label))
    except LOAD_ERRORS as exc:
        raise ModelError(f"cannot load {path} as an ONNX model ({type(exc).__name__})", fix) from exc
