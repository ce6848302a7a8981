"""Reading PyTorch weight files, with one clear :class:`~tracker.errors.ModelError` for every way a file can be wrong.

Shared by the TorchVision detector and the ResNet embedder: both read tensors only
(``weights_only=True``), so a checkpoint cannot run code when it is loaded.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import torch

from ..errors import ModelError

# What torch.load(weights_only=True) raises on a file that is not a checkpoint (text, truncated, random bytes).
_GARBAGE_ERRORS = (RuntimeError, EOFError, ValueError, LookupError, struct.error)


def load_checkpoint(path: Path, what: str, fix: str) -> object:
    """The tensors (usually a dict) saved in ``path``; ``what`` names the file in the not-found error."""
    if not path.is_file():
        raise ModelError(f"{what} file not found: {path}", fix)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelError(
            f"cannot load {path}: not a PyTorch checkpoint, or one holding Python objects besides tensors",
            "Give a state dict saved with torch.save(model.state_dict(), path)",
        ) from None
    except _GARBAGE_ERRORS as exc:
        raise ModelError(f"cannot load {path} as a PyTorch checkpoint ({type(exc).__name__})", fix) from None
