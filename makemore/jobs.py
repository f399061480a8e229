"""Trainings that run in background threads, so that a page can draw them live and stop them.

    board = JobBoard(DiskCache())
    job = board.start(dataset, "mlp", MLPConfig(), TrainConfig(max_steps=4000))
    job.snapshot()     # steps, losses and val losses so far: redraw the chart from this
    job.stop()         # keep what was trained so far
    job.status         # "queued", "running", "done", "stopped" or "failed"

One board serves every visitor of a server. A training is identified by everything that decides
its result (the disk cache's key), so two visitors asking for the same settings share one job and
both watch it; a finished job stays in memory (up to a bound) and on disk. At most
`max_running` jobs train at once; the others wait in "queued". A job nobody has looked at for
`abandoned_after` seconds (its tab was closed) stops itself.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from makemore import limits
from makemore.cache import DiskCache, cache_key, load_trained, train_or_load
from makemore.data import WordDataset
from makemore.train import Progress, TrainConfig, TrainResult

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"


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
    def __init__(self, key: str, dataset: WordDataset, model_name: str, model_config,
                 train_config: TrainConfig):
        self.key = key
        self.dataset = dataset
        self.model_name = model_name
        self.model_config = model_config
        self.train_config = train_config
        self.status = QUEUED
        self.model = None
        self.result: TrainResult | None = None
        self.error: str | None = None
        self.from_disk = False
        self.stop_reason: str | None = None
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._val: list[tuple[int, float]] = []
        self._seconds = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards the history lists between the trainer and readers
        self.last_seen = time.monotonic()
        self.finished = threading.Event()

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)

    def seen(self) -> None:
        """A page is watching: do not count this job as abandoned."""
        self.last_seen = time.monotonic()

    def stop(self, reason: str = "stopped by a visitor") -> None:
        self.stop_reason = self.stop_reason or reason
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)

    def snapshot(self) -> Snapshot:
        with self._lock:
            step = self._steps[-1] if self._steps else 0
            return Snapshot(self.status, step, self.train_config.max_steps, self._seconds,
                            list(self._steps), list(self._losses), list(self._val))

    def _record(self, p: Progress) -> bool:
        with self._lock:
            self._steps.append(p.step)
            self._losses.append(p.loss)
            if p.val_loss is not None:
                self._val.append((p.step, p.val_loss))
            self._seconds = p.seconds
        if time.monotonic() - self.last_seen > self.abandoned_after:
            self.stop("nobody was watching")
        return self._stop.is_set()

    def _run(self, cache: DiskCache | None, slots: threading.Semaphore) -> None:
        with slots:  # queued until a slot is free
            if self._stop.is_set():
                self.status = STOPPED
                self.finished.set()
                return
            self.status = RUNNING
            try:
                self.model, self.result, self.from_disk = train_or_load(
                    self.dataset, self.model_name, self.model_config, self.train_config,
                    callback=self._record, cache=cache)
                if self.from_disk:  # another server process trained it meanwhile: show its history
                    with self._lock:
                        self._steps, self._losses = self.result.step_history, self.result.loss_history
                        self._val = self.result.val_history
                self.status = STOPPED if self.result.stopped_early else DONE
            except FloatingPointError as e:
                self.error, self.status = str(e), FAILED
            except Exception as e:  # never let a thread die silently: the page shows the reason
                self.error, self.status = f"{type(e).__name__}: {e}", FAILED
            finally:
                self.finished.set()


class JobBoard:
    def __init__(self, cache: DiskCache | None = None, max_running: int = limits.MAX_CONCURRENT_TRAININGS,
                 max_kept: int = limits.MEMORY_CACHE_ENTRIES,
                 abandoned_after: float = limits.ABANDONED_AFTER_SECONDS):
        self.cache = cache
        self.max_kept = max_kept
        self.abandoned_after = abandoned_after
        self._slots = threading.Semaphore(max_running)
        self._jobs: OrderedDict[str, TrainingJob] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def key(self, dataset: WordDataset, model_name: str, model_config, train_config) -> str:
        return cache_key(dataset.fingerprint, model_name, model_config, train_config)

    def find(self, dataset: WordDataset, model_name: str, model_config, train_config) -> TrainingJob | None:
        """The job for these settings if one exists in memory or on disk; never trains."""
        key = self.key(dataset, model_name, model_config, train_config)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                self._jobs.move_to_end(key)
                return job
        hit = load_trained(dataset, model_name, model_config, train_config, self.cache) if self.cache else None
        if hit is None:
            return None
        job = self._new_job(key, dataset, model_name, model_config, train_config)
        job.model, job.result = hit
        job.from_disk, job.status, job._seconds = True, DONE, job.result.seconds
        job._steps, job._losses, job._val = job.result.step_history, job.result.loss_history, job.result.val_history
        job.finished.set()
        return self._keep(job)

    def start(self, dataset: WordDataset, model_name: str, model_config, train_config) -> TrainingJob:
        """The job for these settings: the existing one unless it was stopped or failed, else a
        new one training in a background thread."""
        key = self.key(dataset, model_name, model_config, train_config)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.status not in (STOPPED, FAILED):
                self._jobs.move_to_end(key)
                job.seen()
                return job
            job = self._new_job(key, dataset, model_name, model_config, train_config)
            self._jobs[key] = job
            self._evict()
        threading.Thread(target=job._run, args=(self.cache, self._slots), daemon=True,
                         name=f"train-{model_name}-{key[:8]}").start()
        return job

    def _new_job(self, key, dataset, model_name, model_config, train_config) -> TrainingJob:
        job = TrainingJob(key, dataset, model_name, model_config, train_config)
        job.abandoned_after = self.abandoned_after
        return job

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
