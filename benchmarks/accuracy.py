"""Accuracy benchmark: our trackers and every peer tracker on identical inputs.

Every tracker gets the same cached detections (YOLOX-Nano at conf 0.1 by default; public
FRCNN det.txt on MOT17-mini) with the same OSNet-x0.25 embeddings, and the real frames of the
sequence where it uses them (camera-motion compensation), decoded alongside the cache.
Peers (Ultralytics, BoxMOT, Roboflow `trackers`: benchmarks/peers.py) run with their own
defaults and the sequence's real frame rate where their API takes one. TrackEval scores each
run. ms/frame is the tracker's update call alone (its camera-motion step included, input
conversion and detection excluded).

    python benchmarks/accuracy.py [--sequences KITTI-17 MOT16-11] [--trackers ours boxmot rf-botsort]
        [--detector yolox|yolov8s|mot] [--set tracker.x=y] [--json rows.json] [--peers-json rows.json] [--write]

Groups for --trackers: ours (incl. the *-paper presets), peers, ultralytics, boxmot, roboflow,
paper (our presets + the peers at the same settings), all (the default).

The peers take most of the time (BoxMOT's appearance trackers ~1 s a frame on MOT16-11). Their rows do
not change when ours do, so ``--json`` saves every row and ``--peers-json`` takes the peer rows from one
or more such files instead of running them again: after a change to our trackers,

    python benchmarks/accuracy.py --peers-json benchmarks/peers-rows.json

re-runs our rows only (a few minutes, most of it BoT-SORT paper's camera motion on 1080p) and
prints the whole table and the "default vs best peer" lines. A peer row missing from the file
(another sequence or detector) is run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

import peers
from common import (
    DETECTORS, DEV_SEQUENCES, FALLBACK_FPS, cached_detections, frames, machine, markdown_table, sequences, write_section,
)

from tracker.analyze.evaluation import score_tracks

COLUMNS = ["sequence", "tracker", "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "ms/frame", "tracks"]
MEAN_COLUMNS = ["tracker", "sequences", "HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "ms/frame"]
DEFAULT = "botsort"  # the tracker a user gets without choosing
# Paper presets vs the peers at the same settings: "matches" when ours is at most this many HOTA below the better
# peer (a detection tie broken the other way moves HOTA by a few tenths on these sequences).
PAPER_TOLERANCE = 0.5
INTRO = """\
{command}; detections: {detector}.
Every tracker gets the same cached inputs: detections at threshold 0.1 with OSNet-x0.25 embeddings for each of them,
and the real frames of the sequence (decoded alongside the cache) when it uses them for camera-motion compensation.
Ours run with their defaults (`configs/<tracker>.yaml`);
`bytetrack-paper` / `botsort-paper` with the presets `configs/bytetrack_paper.yaml` / `configs/botsort_paper.yaml`.
Peers (benchmarks/peers.py) run with their own defaults: Ultralytics 8.4 `BYTETracker` / `BOTSORT` with the bundled
YAML (`ul-botsort-reid`: `with_reid: true`, fed our embeddings as native features), BoxMOT 25.0 and Roboflow
`trackers` 2.6 with their Python constructors' defaults (`boxmot-botsort` turns appearance off; the appearance
trackers get our embeddings), each told the sequence's real frame rate where its API takes one. The `*-paper` peer
rows run Ultralytics / BoxMOT at the papers' settings (not counted as peers). "best peer" is the peer with the best
HOTA among the default-setting peers. Scored with TrackEval (MOT16-11 with the MOT17 preprocessing that drops
tracks matched to non-pedestrian classes). ms/frame is the tracker's update call alone (its camera-motion step
included), measured while other jobs shared the 2 cores: compare within a run only. tracks: distinct ids output.
"""


def track(name: str, cached, overrides: list[str] = ()):
    """Run the row ``name`` over a cached sequence: (tracks per frame, their frames, ms per frame, the adapter). Our
    rows' tracks are those the run's files hold (post-processed, unless the row is live); ms per frame includes that
    post-processing."""
    seq = cached.seq
    tracker = peers.build(peers.ROWS[name], seq.fps or FALLBACK_FPS, cached.image_size, overrides)
    images = frames(seq) if tracker.needs_frames else itertools.repeat(None)
    out, spent = [], 0.0
    for dets, image in zip(cached.detections, images):
        inputs = tracker.inputs(dets, image)
        t0 = time.perf_counter()
        result = tracker.update(inputs)
        spent += time.perf_counter() - t0
        out.append(tracker.tracks(result))
    count = len(out)
    t0 = time.perf_counter()
    out, indices = tracker.finish(out) if hasattr(tracker, "finish") else (out, list(range(count)))
    spent += time.perf_counter() - t0
    return out, indices, 1000 * spent / max(count, 1), tracker


def run(name: str, cached, overrides: list[str], post: bool = False) -> list[dict]:
    """One tracker over one cached sequence: its metrics, update time and output summary; with ``post`` and a peer,
    also its tracks after our default post-processing (row ``<name>+post``)."""
    seq = cached.seq
    out, indices, ms, tracker = track(name, cached, overrides)
    rows = [row_of(name, seq, out, indices, ms, tracker, len(cached.detections))]
    if post and not hasattr(tracker, "finish"):
        started = time.perf_counter()
        smoothed, frames_of = post_process(seq, out)
        ms += 1000 * (time.perf_counter() - started) / max(len(out), 1)
        rows.append(row_of(f"{name}+post", seq, smoothed, frames_of, ms, tracker, len(cached.detections)))
    return rows


def post_process(seq, out: list):
    """A peer's tracks after our default post-processing, along the camera motion our default estimates from the
    frames: whether the post-processing alone explains the default's lead. Camera motion is estimated here, so its
    time is in the row's ms/frame."""
    from tracker.analyze.smoothing import CameraPath, smooth_frames
    from tracker.config import load_config
    from tracker.tracking.camera_motion import CameraMotion

    cfg = load_config()
    motion = CameraMotion(cfg.tracker.cmc)
    warps = [motion.estimate(image) for image, _ in zip(frames(seq), out)]
    camera = CameraPath(np.arange(len(warps)), warps)
    return smooth_frames(out, range(len(out)), cfg.smoothing, seq.fps or FALLBACK_FPS, camera)


def row_of(name: str, seq, out: list, indices: list[int], ms: float, tracker, frame_count: int) -> dict:
    ids = np.unique(np.concatenate([t.track_ids for t in out])) if out else []
    return {
        "sequence": seq.name,
        "tracker": name,
        **score_tracks(seq, out, indices),
        "ms/frame": ms,
        "tracks": len(ids),
        "frames": frame_count,
        "fps": seq.fps,
        "frame_rate_given": tracker.takes_fps,
        "uses_frames": tracker.needs_frames,
    }


def library_versions() -> dict[str, str]:
    """Versions of the peers' libraries installed here (saved with the rows: their scores depend on them)."""
    out = {}
    for name in ("ultralytics", "boxmot", "trackers"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def save_rows(path: str, rows: list[dict], overrides: list[str]) -> None:
    data = {"machine": machine(), "date": date.today().isoformat(), "versions": library_versions(),
            "overrides": overrides, "rows": rows}
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def saved_peer_rows(paths: list[str]) -> tuple[dict[tuple[str, str, str], dict], str]:
    """The peer rows (not ours) of ``--json`` files by (sequence, detector, tracker), a later file's rows over an
    earlier's, and a line saying whence."""
    ours = set(peers.GROUPS["ours"])
    saved, sources = {}, []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"error: cannot read saved rows {path}: {exc}. Write them with --json PATH") from None
        saved.update({(r["sequence"], r["detector"], r["tracker"]): r for r in data["rows"] if r["tracker"] not in ours})
        versions = ", ".join(f"{k} {v}" for k, v in data.get("versions", {}).items())
        sources.append(f"{path} (measured {data['date']}{'; ' + versions if versions else ''})")
    return saved, "peer rows from " + ", ".join(sources)


def best_peer_line(rows: list[dict]) -> str | None:
    """Our default tracker vs the peer (default settings) with the best HOTA on these rows."""
    ours = next((r for r in rows if r["tracker"] == DEFAULT), None)
    theirs = [r for r in rows if r["tracker"] in peers.PEERS]
    if ours is None or not theirs:
        return None
    best = max(theirs, key=lambda r: r["HOTA"])
    return (
        f"{ours['sequence']}: default {DEFAULT} HOTA {ours['HOTA']:.1f} IDF1 {ours['IDF1']:.1f} IDSW {ours['IDSW']} vs "
        f"best peer {best['tracker']} HOTA {best['HOTA']:.1f} IDF1 {best['IDF1']:.1f} IDSW {best['IDSW']}: "
        f"dHOTA {ours['HOTA'] - best['HOTA']:+.1f}, dIDF1 {ours['IDF1'] - best['IDF1']:+.1f}, "
        f"dIDSW {ours['IDSW'] - best['IDSW']:+d}"
    )


def paper_table(rows: list[dict]) -> str | None:
    """Per sequence, HOTA of our paper presets next to the peers at the same settings, and the verdict."""
    out = []
    for seq in dict.fromkeys(r["sequence"] for r in rows):
        hota = {r["tracker"]: r["HOTA"] for r in rows if r["sequence"] == seq}
        row = {"sequence": seq}
        for ours, theirs in peers.PAPER_COUNTERPARTS.items():
            if ours not in hota or not all(t in hota for t in theirs):
                continue
            lead = hota[ours] - max(hota[t] for t in theirs)
            row |= {ours: hota[ours], **{t: hota[t] for t in theirs}, f"{ours} lead": f"{lead:+.2f}",
                    f"{ours} verdict": "matches" if lead >= -PAPER_TOLERANCE else "**below**"}
        if len(row) > 1:
            out.append(row)
    if not out:
        return None
    columns = ["sequence"]
    for ours, theirs in peers.PAPER_COUNTERPARTS.items():
        columns += [ours, *theirs, f"{ours} lead", f"{ours} verdict"]
    return markdown_table(out, [c for c in columns if any(c in r for r in out)])


def dev_means(rows: list[dict]) -> list[dict]:
    """Per tracker, the mean of every column over the dev sequences (trackers run on all of them only)."""
    dev = [r for r in rows if r["sequence"] in DEV_SEQUENCES]
    present = {r["sequence"] for r in dev}
    out = []
    for name in dict.fromkeys(r["tracker"] for r in dev):
        mine = [r for r in dev if r["tracker"] == name]
        if len(mine) == len(present):
            means = {c: float(np.mean([r[c] for r in mine])) for c in MEAN_COLUMNS[2:]}
            out.append({"tracker": name, "sequences": len(mine), **means})
    return sorted(out, key=lambda r: -r["HOTA"])


def report(rows: list[dict], detector: str | None) -> str:
    lines = [f"Machine: {machine()}; {date.today().isoformat()}; detector: {detector or 'each sequence its usual'}", ""]
    by_seq = {}
    for r in rows:
        by_seq.setdefault(r["sequence"], []).append(r)
    for seq_rows in by_seq.values():
        lines += [markdown_table(seq_rows, COLUMNS), ""]
        line = best_peer_line(seq_rows)
        if line:
            lines += [line, ""]
    means = dev_means(rows)
    if means:
        lines += [f"Mean over the dev sequences ({', '.join(s for s in DEV_SEQUENCES if s in by_seq)}):", ""]
        lines += [markdown_table(means, MEAN_COLUMNS), ""]
    paper = paper_table(rows)
    if paper:
        lines += ["Paper presets vs the peers at the same settings, HOTA (lead: ours minus the better peer; "
                  f"matches: lead >= -{PAPER_TOLERANCE}):", "", paper, ""]
    zero = [f"{r['sequence']} {r['tracker']}" for r in rows if r["tracks"] == 0]
    lines.append("Runs with 0 tracks: " + (", ".join(zero) if zero else "none"))
    given = ["ours"] + sorted({r["tracker"] for r in rows if r["frame_rate_given"] and r["tracker"] not in peers.OURS
                               and r["tracker"] not in peers.OURS_PAPER})
    ignored = sorted({r["tracker"] for r in rows if not r["frame_rate_given"]})
    lines.append(f"Frame rate given to: {', '.join(given)}; not taken by: {', '.join(ignored) or 'none'}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", nargs="*", default=None)
    ap.add_argument("--trackers", nargs="*", default=["all"], help="rows and groups (see above)")
    ap.add_argument("--detector", choices=list(DETECTORS), default=None,
                    help="cached detector; default: YOLOX-Nano, public det.txt on MOT17-mini")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="override for our trackers")
    ap.add_argument("--json", metavar="PATH", help="write every row (metrics, timing, track count) as JSON")
    ap.add_argument("--peers-json", metavar="PATH", nargs="+",
                    help="take the peer rows from --json files instead of running them; ours are always run")
    ap.add_argument("--write", action="store_true", help="replace the accuracy section of benchmarks/RESULTS.md")
    ap.add_argument("--post-peers", action="store_true",
                    help="also score each peer that runs after our default post-processing (rows <peer>+post)")
    args = ap.parse_args()
    names = peers.expand(args.trackers)

    saved, whence = saved_peer_rows(args.peers_json) if args.peers_json else ({}, None)

    rows, reused = [], 0
    for seq, detector in sequences(args.sequences, args.detector):
        cached = None
        for name in names:
            row = saved.get((seq.name, detector, name))
            reused += row is not None
            note = " (saved)" if row is not None else ""
            if row is None:
                cached = cached or cached_detections(seq, detector)
                try:
                    new = [{**r, "detector": detector} for r in run(name, cached, args.overrides, args.post_peers)]
                except ModuleNotFoundError as exc:
                    raise SystemExit(f"error: {name} needs {exc.name}, which is not installed. Run `make bench` "
                                     "(installs the peers), or choose --trackers ours, or pass --peers-json") from None
            else:
                new = [row]
            rows += new
            for row in new:
                print(f"{seq.name:16s} {row['tracker']:26s} HOTA {row['HOTA']:5.1f} IDF1 {row['IDF1']:5.1f} "
                      f"MOTA {row['MOTA']:5.1f} IDSW {row['IDSW']:3d} tracks {row['tracks']:4d} {row['ms/frame']:7.2f} "
                      f"ms{note}", flush=True)  # fmt: skip
    text = report(rows, args.detector)
    if reused:
        text += f"\n{reused} {whence}; the other rows run {date.today().isoformat()}"
    print()
    print(text)
    if args.json:
        save_rows(args.json, rows, args.overrides)
    if args.write:
        if args.detector:
            heading, detector = f"## Accuracy by detector: {args.detector}", f"--detector {args.detector}"
        else:
            heading, detector = "## Accuracy (benchmarks/accuracy.py)", "YOLOX-Nano (public FRCNN det.txt on MOT17-mini)"
        command = "`python benchmarks/accuracy.py --write`"
        if reused:
            command = (f"`python benchmarks/accuracy.py --peers-json {' '.join(args.peers_json)} --write`: our rows run\n"
                       "now, the peers' rows as a full run saved them with `--json` (last line below)")
        write_section(heading, INTRO.format(command=command, detector=detector) + "\n" + text)


if __name__ == "__main__":
    main()
