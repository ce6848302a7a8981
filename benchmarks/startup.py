"""Start-up of ``tracker track``: time from process start to the start line and to the first tracked frame.

Each run is a fresh ``python -m tracker track samples/pets09_s2l1_150.mp4 --max-frames N`` with
the default configuration (YOLOX-Nano + OSNet + BoT-SORT, every output on). The clock starts
just before the process is spawned and stops when

- ``start line``: stderr shows the ``tracking ...`` line (printed before any model loads);
- ``first frame``: ``tracks.csv`` holds its first data row (the sample has people, and BoT-SORT
  reports tracks on the first frame, so this is frame 0 written to every output);
- ``exit``: the process has ended after ``N`` frames (default 1);
- ``CPU``: the user + system CPU seconds the whole process used. On a busy machine the wall
  times above stretch with the load; the CPU time barely does, and on an idle machine the time
  to the first frame is at most about this (start-up is mostly one thread).

``--baseline DIR`` times another checkout of the project as well (e.g. one exported with
``git archive <commit> | tar -x -C DIR``), its package put first on PYTHONPATH like this one's.
The variants run interleaved, round by round, alternating which goes first, so a change in the
machine's load hits both alike; the load average is printed with the table. Only medians over
rounds are compared.

    python benchmarks/startup.py                                   # this checkout, 5 rounds
    python benchmarks/startup.py --baseline /tmp/tracker-before --label "main 3309d84" --rounds 5 --write
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from common import ROOT, machine, markdown_table, write_section

SAMPLE = ROOT / "samples" / "pets09_s2l1_150.mp4"
SECTION = "## Start-up (benchmarks/startup.py)"
START_LINE_PREFIX = "tracking "  # the line `tracker track` prints before loading models
POLL_S = 0.005  # how often tracks.csv is checked for its first row
RUN_TIMEOUT_S = 300
TARGET_FIRST_FRAME_S = 2.0  # issue #16: first frame within 2 s with the defaults on this machine


def _first_row_written(path: Path) -> bool:
    """Whether ``path`` holds a header line and at least one whole data line."""
    try:
        return path.read_bytes().count(b"\n") >= 2
    except FileNotFoundError:
        return False


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # of the children waited for: the runs so far
    return usage.ru_utime + usage.ru_stime


def time_run(root: Path, frames: int) -> dict:
    """Seconds from spawning ``python -m tracker track`` (package of ``root``) to its start line, first frame, exit;
    and the CPU seconds the process used."""
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        out = Path(tmp) / "run"
        env = {**os.environ, "PYTHONPATH": str(root)}
        command = [sys.executable, "-m", "tracker", "track", str(SAMPLE), "--out", str(out), "--max-frames", str(frames)]
        times: dict[str, float] = {}
        cpu_before = _children_cpu()
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=root, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)

        def read_stderr() -> None:
            for raw in proc.stderr:
                if raw.decode(errors="replace").startswith(START_LINE_PREFIX) and "line" not in times:
                    times["line"] = time.perf_counter() - started

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        deadline = started + RUN_TIMEOUT_S
        while proc.poll() is None and "first" not in times and time.perf_counter() < deadline:
            if _first_row_written(out / "tracks.csv"):
                times["first"] = time.perf_counter() - started
            time.sleep(POLL_S)
        proc.wait(timeout=max(1.0, deadline - time.perf_counter()))
        times["exit"] = time.perf_counter() - started
        times["cpu"] = _children_cpu() - cpu_before
        reader.join(timeout=5)
        if "first" not in times and _first_row_written(out / "tracks.csv"):
            times["first"] = times["exit"]  # the whole run fitted between two polls
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command)} (PYTHONPATH={root}) exited with {proc.returncode}")
        return times


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def _range(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="another checkout to time alongside this one")
    parser.add_argument("--label", default="baseline", help="what the baseline is, for the table (e.g. a commit)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each variant (interleaved)")
    parser.add_argument("--frames", type=int, default=1, help="--max-frames of each run")
    parser.add_argument("--write", action="store_true", help="write the table into benchmarks/RESULTS.md")
    args = parser.parse_args()

    variants = {"this checkout": ROOT}
    if args.baseline is not None:
        variants = {args.label: args.baseline.resolve(), **variants}
    results: dict[str, dict[str, list[float]]] = {
        name: {"line": [], "first": [], "exit": [], "cpu": []} for name in variants
    }
    loads = [os.getloadavg()[0]]
    time_run(ROOT, 1)  # warm the page cache (Python files, shared libraries, the models) before any clock runs
    for round_index in range(args.rounds):
        order = list(variants) if round_index % 2 == 0 else list(reversed(variants))
        for name in order:
            times = time_run(variants[name], args.frames)
            for key, value in times.items():
                results[name][key].append(value)
            print(f"round {round_index + 1} {name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()),
                  file=sys.stderr)  # fmt: skip
        loads.append(os.getloadavg()[0])

    rows = [
        {
            "variant": name,
            "start line (s)": _median(r["line"]),
            "first frame (s)": _median(r["first"]),
            "first frame, range (s)": _range(r["first"]),
            f"exit after {args.frames} frame{'s' if args.frames > 1 else ''} (s)": _median(r["exit"]),
            "CPU of the run (s)": _median(r["cpu"]),
        }
        for name, r in results.items()
    ]
    columns = list(rows[0])
    table = markdown_table(rows, columns)
    note = (
        f"{date.today()}, {machine()}; medians of {args.rounds} interleaved rounds; 1-minute load average "
        f"{min(loads):.1f}-{max(loads):.1f} during the runs (other jobs shared the cores); target: first frame "
        f"under {TARGET_FIRST_FRAME_S:g} s; the CPU column (the whole 1-frame run, user + system) changes little "
        "with the load: the wall times stretch with it. `-`: no start line printed."
    )
    print(table)
    print(note)
    if args.write:
        write_section(SECTION, f"{note}\n\n{table}\n")


if __name__ == "__main__":
    main()
