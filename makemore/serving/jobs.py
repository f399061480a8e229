"""Trainings that run in background threads, so that a page can draw them live and stop them.

    board = JobBoard(DiskCache())
    job = board.start(dataset, Run("mlp", MLPConfig(), TrainConfig(max_steps=4000)))
    job.snapshot()     # steps, losses and val losses so far: redraw the chart from this
    job.stop()         # keep what was trained so far
    job.status         # "queued", "running", "done", "stopped" or "failed"
    job.finished       # done, with a result: the one test of "trained in full"

One board serves every visitor of a server. A training is identified by everything that decides
its result (the disk cache's key), so two visitors asking for the same settings share one job and
both watch it; a finished job stays in memory (up to a bound) and on disk. At most
`max_running` jobs train at once; the others wait in "queued". A job nobody has looked at for
`abandoned_after` seconds stops itself, unless a viewer who looked at it is still connected (the
board's `connected(viewer)`: the app asks Streamlit whether that browser tab is still open).

A job fails honestly: `job.failure` says how ("diverged": the loss became infinite or NaN;
"crashed": an error in the training code; "killed": the process was ended from outside, by the
out-of-memory killer for example; "timed out": it ran past `time_limit`) and `job.error` says
what happened, in a sentence. Its slot is freed and its process gone, so the next start is clean.

Each training runs on a backend (makemore/serving/backends.py): by default in a child process,
forked from a server process that has torch loaded (so a start costs milliseconds, not an import),
or on a Ray cluster (MAKEMORE_RAY_ADDRESS; makemore/serving/ray_backend.py). In the web server's own process it would share the
Python lock with every page being drawn, and torch runs markedly slower in a thread once other
threads have used it (their OpenMP workers compete): measured 30-50 % fewer steps per second.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch

from makemore import limits
from makemore.estimate.pace import Pace
from makemore.serving.backends import (CRASHED, DIVERGED, KILLED, TIMED_OUT,  # noqa: F401 (job.failure)
                                       ProcessBackend, backend_from_environment)
from makemore.serving.cache import DiskCache, load_or_train
from makemore.serving.checkpoint import build_model
from makemore.data import WordDataset
from makemore.runs import Run
from makemore.train import TrainConfig, TrainResult, train

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"

log = logging.getLogger("makemore")


class TrainingFailed(Exception):
    def __init__(self, failure: str, message: str, cluster_lost: bool = False):
        super().__init__(message)
        self.failure = failure
        self.cluster_lost = cluster_lost  # the backend itself is gone: the board falls back


@dataclass
class Snapshot:
    status: str
    step: int
    max_steps: int
    seconds: float
    steps: list[int]
    losses: list[float]
    val: list[tuple[int, float]]


class TrainingJob:
    def __init__(self, key: str, dataset: WordDataset, run: Run,
                 abandoned_after: float = limits.ABANDONED_AFTER_SECONDS,
                 estimate: float | None = None, connected: Callable[[str], bool] | None = None):
        self.key = key
        self.abandoned_after = abandoned_after
        self.dataset = dataset
        self.run = run
        self.estimate = estimate  # seconds the page expected it to take (for the queue's wait)
        self.status = QUEUED
        self.model = None
        self.result: TrainResult | None = None
        self.failure: str | None = None  # DIVERGED, CRASHED, KILLED or TIMED_OUT when FAILED
        self.error: str | None = None  # what happened, in a sentence
        self.from_disk = False
        self.stop_reason: str | None = None
        self.stopped_by: str | None = None  # the viewer who pressed Stop (None: the server stopped it)
        self.started: float | None = None  # time.monotonic() when it began training
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._val: list[tuple[int, float]] = []
        self._seconds = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards the history lists between the trainer and readers
        self.last_seen = time.monotonic()
        self.connected = connected  # viewer -> is that viewer still there (None: go by time alone)
        self._viewers: set[str] = set()
        self.ended = threading.Event()  # set when it will change no more: done, stopped or failed
        self._handle = None  # the backend's handle of its training, while it trains
        self.cluster_lost = False  # it failed because its backend (a Ray cluster) went away

    @property
    def model_name(self) -> str:
        return self.run.model_name

    @property
    def model_config(self):
        return self.run.model_config

    @property
    def train_config(self) -> TrainConfig:
        return self.run.train_config

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)

    @property
    def finished(self) -> bool:
        """Trained in full, with its result (not stopped part way, not failed, not still training)."""
        return self.status == DONE and self.result is not None

    def seen(self, viewer: str | None = None) -> None:
        """A page is watching (viewer: who, for the board's `connected`): not abandoned."""
        self.last_seen = time.monotonic()
        if viewer is not None:
            with self._lock:
                self._viewers.add(viewer)

    @property
    def abandoned(self) -> bool:
        """Unseen for `abandoned_after` seconds and none of its viewers still connected. A busy
        server redraws a waiting page late, so time alone would drop trainings that a student is
        still waiting for; a closed tab is what means nobody will come for the result."""
        if time.monotonic() - self.last_seen <= self.abandoned_after:
            return False
        if self.connected is None:
            return True
        with self._lock:
            viewers = list(self._viewers)
        return not any(self.connected(viewer) for viewer in viewers)

    def stop(self, reason: str = "stopped by a visitor", by: str | None = None) -> None:
        """Stop after the current step, keeping what was trained. `by`: the viewer who pressed Stop
        (training.shared.viewer()), so that the page can tell them from the others watching. The first
        stop's reason and viewer are the ones kept."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason, self.stopped_by = reason, by
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.ended.wait(timeout)

    def snapshot(self) -> Snapshot:
        with self._lock:
            step = self._steps[-1] if self._steps else 0
            return Snapshot(self.status, step, self.train_config.max_steps, self._seconds,
                            list(self._steps), list(self._losses), list(self._val))

    def remaining_seconds(self, pace: float = 1.0) -> float:
        """A guess of the seconds left: from its progress once it runs, else from its estimate times
        `pace` (the board's Pace.factor: how this server's recent trainings compared with theirs)."""
        snap = self.snapshot()
        if snap.step and snap.seconds > 0:
            return snap.seconds / snap.step * (snap.max_steps - snap.step)
        return (self.estimate if self.estimate is not None else 30.0) * pace

    def _train_on(self, backend, dataset, run: Run, train_fn, time_limit: float):
        """A trainer for load_or_train: trains on the backend, relays its progress into this job,
        and returns (model, result); raises TrainingFailed."""
        handle = backend.start(self.key, dataset, run, train_fn)
        self._handle = handle
        try:
            return self._watch(handle, time_limit)
        finally:
            handle.close()

    def _watch(self, handle, time_limit: float):
        """Relay the training's messages until it finishes; stop it when nobody watches any more."""
        while True:
            if self.abandoned:
                self.stop("nobody was watching")
            if self._stop.is_set():
                handle.stop()
            if time.monotonic() - self.started > time_limit:
                handle.kill()
                raise TrainingFailed(TIMED_OUT, f"the training ran for longer than the {time_limit:.0f} s "
                                     "this server allows one training, and was ended")
            message = handle.next_message(0.2)
            if message is None:
                ended = handle.gone()
                if ended is not None:
                    raise TrainingFailed(*ended)
                continue
            kind, *payload = message
            if kind == "progress":
                steps, losses, val, seconds = payload
                with self._lock:
                    self._steps.extend(steps)
                    self._losses.extend(losses)
                    self._val.extend(val)
                    self._seconds = seconds
            elif kind == "done":
                result, weights = payload
                state_dict = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
                model = build_model(self.model_name, len(self.dataset.vocab), self.model_config, state_dict)
                return model, TrainResult.from_dict(result)
            else:
                failure, text = payload
                raise TrainingFailed(failure, text)

    def _run(self, cache: DiskCache | None, slots: threading.Semaphore, backend, train_fn, time_limit) -> None:
        with slots:  # queued until a slot is free
            try:
                if self.abandoned:  # its tab was closed while it waited for a slot
                    self.stop("nobody was watching")
                if self._stop.is_set():
                    self.status = STOPPED
                    return
                self.status, self.started = RUNNING, time.monotonic()

                def trainer(dataset, run, callback):
                    return self._train_on(backend, dataset, run, train_fn, time_limit)

                # another server process (or the CLI) may have trained it meanwhile
                model, result, from_disk = load_or_train(self.dataset, self.run, cache=cache, trainer=trainer)
                self._use(model, result, from_disk)
            except TrainingFailed as e:
                self.failure, self.error, self.status = e.failure, str(e), FAILED
                self.cluster_lost = e.cluster_lost
            except Exception as e:  # never let a thread die silently: the page shows the reason
                self.failure, self.error, self.status = CRASHED, f"{type(e).__name__}: {e}", FAILED
            finally:
                self.ended.set()

    def _use(self, model, result: TrainResult, from_disk: bool) -> None:
        """The trained model and its result; one from the disk brings its history for the charts."""
        self.model, self.result, self.from_disk = model, result, from_disk
        if from_disk:
            with self._lock:
                self._steps, self._losses = result.step_history, result.loss_history
                self._val, self._seconds = result.val_history, result.seconds
        self.status = STOPPED if result.stopped_early else DONE


class JobBoard:
    def __init__(self, cache: DiskCache | None = None, max_running: int | None = None,
                 max_kept: int = limits.MEMORY_CACHE_ENTRIES,
                 abandoned_after: float | None = None,
                 time_limit: float = limits.TRAINING_TIME_LIMIT, train_fn=train,
                 connected: Callable[[str], bool] | None = None, backend=None, pace: Pace | None = None):
        # where trainings run: child processes, or a Ray cluster (makemore/serving/backends.py)
        self.backend = backend if backend is not None else backend_from_environment()
        self.cache = cache
        self.connected = connected  # viewer -> still connected? (see TrainingJob.abandoned)
        # as many at once as the backend has cores for: the server's (2), or the Ray cluster's CPUs
        self.max_running = max_running if max_running is not None else self.backend.slots()
        self.max_kept = max_kept
        # read when the board is made, not when this module was imported: the tests that drive pages
        # in their own process (no browser to watch a queued run) give it longer (tests/conftest.py)
        self.abandoned_after = limits.ABANDONED_AFTER_SECONDS if abandoned_after is None else abandoned_after
        self.time_limit = time_limit
        self.train_fn = train_fn  # what the child runs: makemore.train.train (tests make it fail)
        # how this server's trainings compare with their estimates now: the pages and the queue scale by it
        self.pace = pace if pace is not None else Pace()
        self._slots = threading.Semaphore(self.max_running)
        self.trainings_started = 0  # trainings begun (not found in memory): a test counts them
        self._jobs: OrderedDict[str, TrainingJob] = OrderedDict()  # least recently used first
        self._waiting: list[TrainingJob] = []  # queued jobs, first come first
        self._lock = threading.Lock()

    def key(self, dataset: WordDataset, run: Run) -> str:
        return run.key(dataset)

    def find(self, dataset: WordDataset, run: Run) -> TrainingJob | None:
        """The job for this run if one exists in memory or on disk; never trains."""
        key = run.key(dataset)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                self._jobs.move_to_end(key)
                return job
        hit = self.cache.load(key) if self.cache is not None else None
        if hit is None:
            return None
        job = self._new_job(key, dataset, run)
        job._use(hit.build(), hit.result, from_disk=True)
        job.ended.set()
        return self._keep(job)

    def start(self, dataset: WordDataset, run: Run, estimate: float | None = None,
              viewer: str | None = None) -> TrainingJob:
        """The job for this run: the existing one unless it was stopped or failed, else a new one
        training in a background thread (estimate: its expected seconds, for the queue; viewer: who
        asked, see TrainingJob.seen)."""
        key = run.key(dataset)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.status not in (STOPPED, FAILED):
                self._jobs.move_to_end(key)
                job.seen(viewer)
                return job
            job = self._new_job(key, dataset, run, estimate)
            job.seen(viewer)
            self._jobs[key] = job
            self._waiting.append(job)
            self._evict()
            self.trainings_started += 1
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"watch-{run.model_name}-{key[:8]}").start()
        return job

    def _run(self, job: TrainingJob) -> None:
        try:
            job._run(self.cache, _Slot(self._slots, lambda: self._left_queue(job)), self.backend, self.train_fn,
                     self.time_limit)
        finally:
            self._left_queue(job)
            if job.cluster_lost:
                self._fall_back(job)
            if job.finished and not job.from_disk and job.started is not None:
                self.pace.observe(job.estimate, time.monotonic() - job.started)

    def _fall_back(self, job: TrainingJob) -> None:
        """Its Ray cluster went away: the job has said so to its student; new trainings run here."""
        with self._lock:
            if isinstance(self.backend, ProcessBackend):
                return
            log.warning("lost the Ray cluster (%s): training in child processes from now on", job.error)
            self.backend = ProcessBackend()

    def _left_queue(self, job: TrainingJob) -> None:
        with self._lock:
            if job in self._waiting:
                self._waiting.remove(job)

    def queue_position(self, job: TrainingJob) -> int:
        """1 for the next job to start, 2 for the one after it...; 0 when it is not waiting."""
        with self._lock:
            waiting = [j for j in self._waiting if j.status == QUEUED]
        return waiting.index(job) + 1 if job in waiting else 0

    def wait_seconds(self, job: TrainingJob) -> float:
        """A guess of how long a queued job waits for a slot: the work ahead of it, shared by the
        slots (each running job's time left, and each job ahead of it in the queue), its estimates
        scaled as the pages scale theirs (self.pace)."""
        pace = self.pace.factor()
        with self._lock:
            running = [j for j in self._jobs.values() if j.status == RUNNING]
            ahead = self._waiting[: self._waiting.index(job)] if job in self._waiting else []
        # free slots: the board's own, and on a cluster no more than its idle CPUs (other servers use it too)
        free = int(min(max(0, self.max_running - len(running)), self.backend.free_cpus()))
        free_at = sorted([j.remaining_seconds(pace) for j in running] + [0.0] * free)
        if not free_at:  # a cluster busy with other servers' trainings: wait for any of ours, or a guess
            free_at = [min([j.remaining_seconds(pace) for j in running], default=30.0 * pace)]
        for j in ahead:
            free_at[0] += j.remaining_seconds(pace)  # it takes the slot that frees first
            free_at.sort()
        return free_at[0]

    def _new_job(self, key, dataset, run, estimate=None) -> TrainingJob:
        return TrainingJob(key, dataset, run, self.abandoned_after, estimate, self.connected)

    def _keep(self, job: TrainingJob) -> TrainingJob:
        with self._lock:
            existing = self._jobs.get(job.key)
            if existing is not None:  # another visitor got there first: share theirs
                return existing
            self._jobs[job.key] = job
            self._evict()
            return job

    def _evict(self) -> None:
        # only finished jobs go: a running one is someone's live view
        finished = [k for k, j in self._jobs.items() if not j.active]
        for k in finished[: max(0, len(self._jobs) - self.max_kept)]:
            del self._jobs[k]


class _Slot:
    """The board's semaphore, telling the board when a job leaves the queue for a slot."""

    def __init__(self, semaphore: threading.Semaphore, on_enter):
        self.semaphore, self.on_enter = semaphore, on_enter

    def __enter__(self):
        self.semaphore.acquire()
        self.on_enter()

    def __exit__(self, *exc):
        self.semaphore.release()
