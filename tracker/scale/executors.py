"""Who runs a batch's jobs: Ray actors (a local Ray instance or a cluster), or this process one job at a time.

Both take jobs from a scheduler (:class:`~.batch.Scheduler`: ``next_job``, ``finished``,
``lost``, ``progress``, ``stopping``) until it has none left or is stopping, and stop their
workers' jobs between frames on :meth:`request_stop`.

:class:`RayExecutor` starts one :class:`~.worker.TrackWorker` actor per worker; each loads the
models once, then runs job after job. On a local Ray instance it started itself, each worker is
pinned to cores of its own (``batch.pin_cores``, :mod:`.cores`). A worker whose node dies loses its
job, which goes back to the queue, and a replacement worker (on the same cores, when pinned) is
started wherever the cluster has room. Ray is imported here only: without it,
:class:`LocalExecutor` runs everything in this process.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from urllib.parse import urlsplit

from ..config import Config
from ..errors import ClusterError, ConfigError, TrackerError
from .cores import describe, usable_cores, worker_cores
from .ledger import FAILED
from .worker import Outcome, TrackWorker

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0  # an address that does not accept a connection this fast is reported as unreachable
POLL_S = 0.5  # how often the driver looks at finished jobs, workers' progress and Ctrl-C
PROGRESS_TIMEOUT_S = 0.2  # a worker too busy to report its progress this fast is asked again next time
WORKER_START_TIMEOUT_S = 300.0  # work left, no worker running, none started within this long: give up
STOP_WAIT_S = 60.0  # after Ctrl-C, how long to wait for the workers to finish the frame they are on
INSTALL_HINT = "pip install 'tracker[cluster]'"
EXIT_INTERNAL = 1  # a bug, as the command line reports one


class LocalExecutor:
    """Every job in this process, one after another, on every core."""

    description = "in this process, one job at a time"

    def __init__(self, cfg: Config):
        self.worker = TrackWorker(cfg)
        self.workers = 1

    def start(self) -> None:
        self.worker.load()

    def request_stop(self) -> None:
        self.worker.stop()

    def run(self, scheduler) -> None:
        self.worker.on_progress = scheduler.progress
        while not scheduler.stopping:
            job = scheduler.next_job()
            if job is None:
                return
            try:
                outcome = self.worker.run(job)
            except Exception as exc:  # a bug met on this source: it fails, the batch goes on, as on Ray
                log.exception("tracking %s failed", job.source)
                outcome = _internal_error(exc)
            scheduler.finished(job, outcome)

    def close(self) -> None:
        pass


class RayExecutor:
    """Jobs on ``workers`` Ray actors of ``threads`` CPU threads and ``gpus`` GPUs each.

    address: None starts a local Ray instance with every core this process may use (unless this
    process already joined one); ``auto`` joins the cluster this machine is part of;
    ``ray://HOST:PORT`` (Ray Client) or ``HOST:PORT`` (a head node's address) joins that one.
    workers: None: as many as the cluster's CPUs (or GPUs, with ``gpus``) hold.
    gpus: per worker (0.25 packs four on a GPU); None: 1 when the cluster has GPUs and the
    config's devices allow CUDA, else 0.
    ``cores``: each worker's cores when they are pinned (``batch.pin_cores`` auto on the local Ray
    instance started here), else None.
    """

    def __init__(self, cfg: Config, address: str | None = None, workers: int | None = None,
                 threads: int = 1, gpus: float | None = None, max_jobs: int | None = None):  # fmt: skip
        import ray

        self.ray = ray
        self.cfg = cfg
        self.address = address
        self.threads = threads
        self.started_ray = False
        self._connect()
        self.gpus = self._gpus_per_worker(gpus)
        self.workers = workers or self._fitting_workers()
        if max_jobs is not None:
            self.workers = max(1, min(self.workers, max_jobs))
        local = self.started_ray and address is None  # a cluster this process joined: its cores are not ours
        self.cores = worker_cores(cfg.batch.pin_cores, local, self.workers, threads)
        if self.started_ray:
            where = "this machine" if address is None else f"the cluster at {address}"
        else:
            where = "the Ray cluster this process had joined"
        gpu_text = f", {self.gpus:g} GPU" if self.gpus else ""
        plural, threads_plural = "s" * (self.workers != 1), "s" * (threads > 1)
        pinned = "" if self.cores is None else f", pinned to cores {describe(self.cores)}"
        self.description = (
            f"on {self.workers} Ray worker{plural} on {where} "
            f"({threads} CPU thread{threads_plural}{gpu_text} each{pinned})"
        )
        self._actor_class = ray.remote(TrackWorker).options(
            num_cpus=threads, num_gpus=self.gpus, max_concurrency=2, max_restarts=0
        )  # max_concurrency 2: progress() and stop() are answered while run() works
        self.actors: dict = {}  # each worker's actor -> its cores (None: not pinned)
        self._stop_sent = False

    # cluster ---------------------------------------------------------------------
    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():  # this process already joined one (a test, a notebook): use it as it is
            return
        options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        if self.address is None:  # "local": a new instance of our own, never another process's (RAY_ADDRESS, `ray start`)
            ray.init(address="local", num_cpus=len(usable_cores()), **options)
        else:
            if self.address != "auto":
                _check_reachable(self.address)
            try:
                ray.init(address=self.address, **options)
            except ConnectionError as exc:
                raise ClusterError(f"cannot join the Ray cluster at {self.address}: {_one_line(exc)}", _CLUSTER_FIX)
        self.started_ray = True

    def _gpus_per_worker(self, gpus: float | None) -> float:
        available = self.ray.cluster_resources().get("GPU", 0.0)
        if gpus is None:
            wants_cuda = "cpu" not in (self.cfg.detector.device, self.cfg.appearance.device)
            return 1.0 if available and wants_cuda else 0.0
        if gpus > 0 and not available:
            raise ClusterError(f"--gpus-per-worker {gpus:g} asks for GPUs but the Ray cluster has none",
                               "Drop --gpus-per-worker, or add nodes with GPUs to the cluster")  # fmt: skip
        return gpus

    def _fitting_workers(self) -> int:
        resources = self.ray.cluster_resources()
        cpus = resources.get("CPU", 0.0)
        if cpus < self.threads:
            raise ClusterError(
                f"a worker needs {self.threads} CPU threads but the Ray cluster has {cpus:g} CPUs",
                "Lower --threads-per-worker or add nodes",
            )
        fit = math.floor(cpus / self.threads)
        if self.gpus:
            fit = min(fit, math.floor(resources.get("GPU", 0.0) / self.gpus))
        return max(1, fit)

    def _start_actor(self, cores: tuple[int, ...] | None) -> None:
        actor = self._actor_class.remote(self.cfg, self.threads, cores)
        self.actors[actor] = cores
        self._starting[actor.load.remote()] = actor

    def start(self) -> None:
        self._starting = {}
        for i in range(self.workers):
            self._start_actor(None if self.cores is None else self.cores[i])

    # jobs ------------------------------------------------------------------------
    def request_stop(self) -> None:
        if self._stop_sent:
            return
        self._stop_sent = True
        for actor in self.actors:
            actor.stop.remote()

    def run(self, scheduler) -> None:
        ray = self.ray
        idle: list = []
        running: dict = {}  # ObjectRef of run() -> (actor, job)
        next_poll = time.monotonic() + POLL_S
        waiting_since = None  # when the driver started waiting with work left and no worker
        stop_deadline = None
        while True:
            if scheduler.stopping:
                self.request_stop()
                stop_deadline = stop_deadline or time.monotonic() + STOP_WAIT_S
            while idle and not scheduler.stopping:
                job = scheduler.next_job()
                if job is None:
                    break
                actor = idle.pop()
                running[actor.run.remote(job)] = (actor, job)
            if not running and (scheduler.stopping or not scheduler.has_work()):
                return
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                log.warning("workers did not stop within %.0f s; leaving them", STOP_WAIT_S)
                return
            if not running and not idle:
                waiting_since = waiting_since or time.monotonic()
                if time.monotonic() - waiting_since > WORKER_START_TIMEOUT_S:
                    raise ClusterError(
                        f"no worker could start within {WORKER_START_TIMEOUT_S:.0f} s: the cluster has no room for "
                        f"one of {self.threads} CPUs" + (f" and {self.gpus:g} GPU" if self.gpus else ""),
                        "Add nodes, or lower --threads-per-worker / --gpus-per-worker",
                    )
            else:
                waiting_since = None
            done, _ = ray.wait(list(running) + list(self._starting), num_returns=1, timeout=POLL_S)
            for ref in done:
                if ref in self._starting:
                    actor = self._starting.pop(ref)
                    if self._started(ref):
                        idle.append(actor)
                    continue
                actor, job = running.pop(ref)
                outcome = self._outcome(ref)
                if outcome is None:  # the worker died with its node
                    scheduler.lost(job)
                    self._replace(actor)
                else:
                    scheduler.finished(job, outcome)
                    idle.append(actor)
            if time.monotonic() >= next_poll:
                self._poll_progress(running, scheduler)
                next_poll = time.monotonic() + POLL_S

    def _started(self, ref) -> bool:
        """Whether a worker loaded its models; a TrackerError there (bad weights) stops the batch."""
        try:
            where = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            raise cause if isinstance(cause, TrackerError) else exc
        except self.ray.exceptions.RayError as exc:  # its node died while it started
            log.warning("a worker died while starting: %s", _one_line(exc))
            return False
        log.info("worker ready on %s", where)
        return True

    def _outcome(self, ref) -> Outcome | None:
        """A finished job's outcome; None when its worker died."""
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # a bug met on this source: it fails, the batch goes on
            return _internal_error(exc.cause)
        except ray.exceptions.RayError as exc:
            log.warning("a worker was lost: %s", _one_line(exc))
            return None

    def _replace(self, actor) -> None:
        """A new worker for the lost ``actor``, on its cores."""
        cores = self.actors.pop(actor, None)
        if not self._stop_sent:
            self._start_actor(cores)

    def _poll_progress(self, running: dict, scheduler) -> None:
        ray = self.ray
        asks = {actor.progress.remote(): actor for actor, _ in running.values()}
        if not asks:
            return
        done, _ = ray.wait(list(asks), num_returns=len(asks), timeout=PROGRESS_TIMEOUT_S)
        for ref in done:
            try:
                key, frames, total = ray.get(ref)
            except ray.exceptions.RayError:  # its worker is dying: its run() reports that
                continue
            if key is not None:
                scheduler.progress(key, frames, total)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors.clear()
        if self.started_ray:
            self.ray.shutdown()


_CLUSTER_FIX = (
    "Check that the cluster is up (ray status on its head node) and the address: ray://HOST:10001 for Ray "
    "Client, HOST:6379 for a head node, or auto on a cluster node; drop --ray-address to run on this machine"
)


def _check_reachable(address: str) -> None:
    """ClusterError when nothing accepts a connection at ``address``'s host and port within CONNECT_TIMEOUT_S
    (Ray itself waits 30 s to 2 min before it gives up on an address)."""
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise ConfigError(f"--ray-address {address!r} is not auto, ray://HOST:PORT or HOST:PORT", _CLUSTER_FIX)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {reason}", _CLUSTER_FIX) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _internal_error(exc: BaseException) -> Outcome:
    return Outcome(FAILED, error=f"internal error: {type(exc).__name__}: {_one_line(exc)}", exit_code=EXIT_INTERNAL)


def make_executor(cfg: Config, address: str | None, workers: int | None, threads: int,
                  gpus: float | None, max_jobs: int | None, notice=print):  # fmt: skip
    """A RayExecutor when Ray is installed, else a LocalExecutor (``notice`` says how to get parallel workers)."""
    try:
        import ray  # noqa: F401 - only to learn whether it is installed
    except ImportError:
        if address is not None or gpus:
            option = "--ray-address" if address is not None else "--gpus-per-worker"
            raise ConfigError(f"{option} needs Ray, which is not installed", f"Install it: {INSTALL_HINT}") from None
        notice(f"note: Ray is not installed, so sources are tracked one after another in this process; "
               f"for parallel workers (and clusters): {INSTALL_HINT}")  # fmt: skip
        return LocalExecutor(cfg)
    return RayExecutor(cfg, address, workers, threads, gpus, max_jobs)
