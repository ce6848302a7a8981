"""A run owns its folder: the files a run writes, clearing an earlier run's, numbering new folders.

:func:`next_run_folder` numbers runs without ``--out`` as Ultralytics does (``runs/track``,
``runs/track2``, ...). Before a run writes into a folder, :func:`clear_run_files` removes every
file an earlier run may have left there (its video, text outputs, camera motion, run.json, config.yaml, smoothing
copies, charts and crops) and nothing else, so outputs of two runs never mix; ``run.json`` lists the
files of the run that wrote it, which is all ``tracker plot`` reads.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from ..errors import ConfigError, OutputError

CONFIG_NAME = "config.yaml"
DEFAULT_RUNS = Path("runs")
FIRST_NUMBER = 2  # runs/track, then runs/track2, runs/track3, ... (Ultralytics' numbering)


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a Path; an empty one is a ConfigError (it would write into the current folder)."""
    if not str(out_dir).strip():
        raise ConfigError(
            "--out is empty", "Name a folder (e.g. --out runs/x), or leave --out out for runs/track, runs/track2, ..."
        )
    return Path(out_dir)


def next_run_folder(base: str | os.PathLike) -> Path:
    """``base`` when it does not exist yet, else the first of ``base2``, ``base3``, ... that does not."""
    base = Path(base)
    path, n = base, FIRST_NUMBER
    while path.exists():
        path = base.with_name(f"{base.name}{n}")
        n += 1
    return path


def run_files(out_dir: str | os.PathLike | None = None) -> tuple[list[str], list[str]]:
    """(paths relative to a run folder, its folders) of every file a run and ``tracker plot`` write.

    With ``out_dir``, the crops an earlier run left there are listed too (their names depend on its
    track ids and frames). The folders are listed deepest first, to be removed once empty.
    """
    from ..analyze.plots import CHART_NAMES, PLOTS_DIR
    from ..analyze.smoothing import raw_path
    from .crops import CROP_GLOB, CROPS_DIR
    from .sinks import (CAMERA_NAME, COUNTS_NAME, CROSSINGS_NAME, CSV_NAME, JSONL_NAME, MOT_NAME, RUN_INFO_NAME,
                        SUMMARY_NAME)
    from .video import DEFAULT_VIDEO_EXTENSION, VIDEO_EXTENSIONS, VIDEO_STEM

    names = [CSV_NAME, MOT_NAME, JSONL_NAME, SUMMARY_NAME, COUNTS_NAME, CROSSINGS_NAME, CAMERA_NAME, RUN_INFO_NAME,
             CONFIG_NAME]
    names += [raw_path(Path(name)).name for name in (CSV_NAME, MOT_NAME)]
    names += sorted(VIDEO_STEM + ext for ext in {*VIDEO_EXTENSIONS.values(), DEFAULT_VIDEO_EXTENSION})
    names += [f"{PLOTS_DIR}/{name}" for name in CHART_NAMES]
    folders = [PLOTS_DIR, CROPS_DIR]
    if out_dir is not None:
        crops = sorted((Path(out_dir) / CROPS_DIR).glob(CROP_GLOB))
        names += [path.relative_to(out_dir).as_posix() for path in crops]
        folders = sorted({path.parent.relative_to(out_dir).as_posix() for path in crops}) + folders
    return names, folders


def clear_run_files(out_dir: str | os.PathLike) -> list[Path]:
    """Delete every file a run writes from ``out_dir`` (its charts' and crops' folders too, once empty); keep the rest.

    Returns what was deleted. OutputError when a file cannot be deleted.
    """
    out = Path(out_dir)
    names, folders = run_files(out)
    removed = []
    for path in (out / name for name in names):
        if not path.is_file():
            continue
        try:
            path.unlink()
        except OSError as exc:
            raise OutputError(
                f"cannot delete {path}, left by an earlier run: {exc.strerror or exc}",
                "Delete it by hand or choose another --out folder",
            ) from None
        removed.append(path)
    for folder in folders:
        with suppress(OSError):  # not there, or holds more than a run wrote
            (out / folder).rmdir()
    return removed
