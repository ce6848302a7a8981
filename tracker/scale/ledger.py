"""``batch.csv``: one row per source of a batch, rewritten atomically after every change.

``source,output,status,frames,tracks,fps,seconds,error``; ``status`` is ``done``, ``failed``,
``interrupted`` (stopped by Ctrl-C: redone next time) or ``pending`` (not started when the batch
stopped). A re-run skips the sources whose row says ``done`` and whose output folder still holds
``run.json``, unless ``--force``; rows of sources not in the new batch are kept.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import OutputError
from ..io.files import write_atomically
from ..io.sinks import RUN_INFO_NAME

LEDGER_NAME = "batch.csv"
DONE, FAILED, INTERRUPTED, PENDING = "done", "failed", "interrupted", "pending"
FPS_FORMAT = "%.2f"
SECONDS_FORMAT = "%.2f"


@dataclass
class Row:
    source: str
    output: str  # the source's output folder, relative to the batch folder
    status: str = PENDING
    frames: int = 0
    tracks: int = 0
    fps: float = 0.0
    seconds: float = 0.0
    error: str = ""


COLUMNS = tuple(f.name for f in fields(Row))


class Ledger:
    """The rows of ``<out>/batch.csv``, keyed by source."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / LEDGER_NAME
        self.rows: dict[str, Row] = {}
        if self.path.is_file():
            self.rows = {row.source: row for row in self._read()}

    def _read(self) -> list[Row]:
        try:
            with self.path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if tuple(reader.fieldnames or ()) != COLUMNS:
                    raise OutputError(
                        f"{self.path} is not a batch.csv of this version (columns {reader.fieldnames})",
                        "Move it away or choose another --out folder",
                    )
                return [_row(record) for record in reader]
        except (OSError, ValueError) as exc:
            problem = f"cannot read {self.path}: {exc}"
            raise OutputError(problem, "Move it away or choose another --out folder") from None

    def finished(self, source: str) -> bool:
        """Whether ``source`` was tracked to its end by an earlier run whose outputs are still there."""
        row = self.rows.get(source)
        return row is not None and row.status == DONE and (self.path.parent / row.output / RUN_INFO_NAME).is_file()

    def record(self, row: Row) -> None:
        self.rows[row.source] = row
        self.save()

    def save(self) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in self.rows.values():
            values = asdict(row)
            values["fps"] = FPS_FORMAT % row.fps
            values["seconds"] = SECONDS_FORMAT % row.seconds
            writer.writerow(values[c] for c in COLUMNS)
        write_atomically(self.path, buf.getvalue())


def _row(record: dict) -> Row:
    return Row(
        source=record["source"], output=record["output"], status=record["status"],
        frames=int(record["frames"]), tracks=int(record["tracks"]),
        fps=float(record["fps"]), seconds=float(record["seconds"]), error=record["error"],
    )  # fmt: skip
