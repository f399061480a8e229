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

Each training runs in a child process, forked from a server process that has torch loaded (so a
start costs milliseconds, not an import). In the web server's own process it would share the
Python lock with every page being drawn, and torch runs markedly slower in a thread once other
threads have used it (their OpenMP workers compete): measured 30-50 % fewer steps per second.
"""

from __future__ import annotations

import io
import multiprocessing
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import torch

from makemore import limits
from makemore.cache import DiskCache, cache_key, load_trained
from makemore.data import WordDataset
from makemore.models import create_model
from makemore.train import Progress, TrainConfig, TrainResult, train

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
SEND_EVERY_SECONDS = 0.1  # the child batches its progress messages: a page redraws once a second


def _context():
    # "forkserver": children fork from a clean helper process with torch imported, never from the
    # threaded web server (forking a process with threads and OpenMP state can deadlock)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["makemore.jobs", "makemore.forkserver_warmup"])
    return ctx


def _train_in_child(messages, stop, name, words, model_name, model_config, train_config) -> None:
    """Runs in the child process: train, streaming progress, and send back the weights."""
    # One core per training: two OpenMP threads on a 2-core server stall whenever anything else
    # runs (a page being drawn, another training), and these small matrices gain little from two.
    torch.set_num_threads(limits.TRAINING_THREADS)
    try:
        dataset = WordDataset(name, words)
        model = create_model(model_name, len(dataset.vocab), model_config, seed=train_config.seed)
        pending = ([], [], [])
        last_sent = time.monotonic()

        def send_progress(seconds):
            nonlocal pending, last_sent
            messages.put(("progress", *pending, seconds))
            pending, last_sent = ([], [], []), time.monotonic()

        def callback(p: Progress) -> bool:
            pending[0].append(p.step)
            pending[1].append(p.loss)
            if p.val_loss is not None:
                pending[2].append((p.step, p.val_loss))
            if time.monotonic() - last_sent > SEND_EVERY_SECONDS:
                send_progress(p.seconds)
            return stop.is_set()

        result = train(model, dataset, train_config, callback=callback)
        if pending[0]:
            send_progress(result.seconds)
        # as bytes: a tensor sent through a Queue is shared by file descriptor, which breaks once
        # this process exits
        weights = io.BytesIO()
        torch.save(model.state_dict(), weights)
        messages.put(("done", result.to_dict(), weights.getvalue()))
    except FloatingPointError as e:
        messages.put(("failed", str(e)))
    except Exception as e:  # the parent shows the reason; a child must never die silently
        messages.put(("failed", f"{type(e).__name__}: {e}"))


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
                 train_config: TrainConfig, abandoned_after: float = limits.ABANDONED_AFTER_SECONDS):
        self.key = key
        self.abandoned_after = abandoned_after
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

    @property
    def abandoned(self) -> bool:
        return time.monotonic() - self.last_seen > self.abandoned_after

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

    def _watch(self, process, messages, stop) -> None:
        """Relay the child's messages until it finishes; stop it when nobody watches any more."""
        while True:
            if self.abandoned:
                self.stop("nobody was watching")
            if self._stop.is_set():
                stop.set()  # the child checks it after every step
            try:
                message = messages.get(timeout=0.2)
            except queue.Empty:
                if not process.is_alive() and messages.empty():
                    raise RuntimeError(f"the training process ended unexpectedly (exit code {process.exitcode})")
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
                self.result = TrainResult.from_dict(result)
                state_dict = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
                model = create_model(self.model_name, len(self.dataset.vocab), self.model_config,
                                     seed=self.train_config.seed)
                model.load_state_dict(state_dict)
                self.model = model.eval()
                return
            else:
                raise FloatingPointError(payload[0])

    def _run(self, cache: DiskCache | None, slots: threading.Semaphore, ctx) -> None:
        with slots:  # queued until a slot is free
            try:
                if self.abandoned:  # its tab was closed while it waited for a slot
                    self.stop("nobody was watching")
                if self._stop.is_set():
                    self.status = STOPPED
                    return
                self.status = RUNNING
                hit = load_trained(self.dataset, self.model_name, self.model_config, self.train_config,
                                   cache) if cache is not None else None
                if hit is not None:  # another server process trained it meanwhile
                    self._use(*hit)
                    return
                messages, stop = ctx.Queue(), ctx.Event()
                process = ctx.Process(target=_train_in_child, daemon=True, name=f"train-{self.key[:8]}",
                                      args=(messages, stop, self.dataset.name, self.dataset.words,
                                            self.model_name, self.model_config, self.train_config))
                process.start()
                try:
                    self._watch(process, messages, stop)
                finally:
                    stop.set()
                    process.join(timeout=5)
                    if process.is_alive():
                        process.kill()
                if not self.result.stopped_early and cache is not None:
                    cache.save(self.key, self.model, self.result)
                self.status = STOPPED if self.result.stopped_early else DONE
            except FloatingPointError as e:
                self.error, self.status = str(e), FAILED
            except Exception as e:  # never let a thread die silently: the page shows the reason
                self.error, self.status = f"{type(e).__name__}: {e}", FAILED
            finally:
                self.finished.set()

    def _use(self, model, result: TrainResult) -> None:
        """A model trained before (from the disk cache), with its history for the charts."""
        self.model, self.result, self.from_disk, self.status = model, result, True, DONE
        with self._lock:
            self._steps, self._losses, self._val = result.step_history, result.loss_history, result.val_history
            self._seconds = result.seconds


class JobBoard:
    def __init__(self, cache: DiskCache | None = None, max_running: int = limits.MAX_CONCURRENT_TRAININGS,
                 max_kept: int = limits.MEMORY_CACHE_ENTRIES,
                 abandoned_after: float = limits.ABANDONED_AFTER_SECONDS):
        self.cache = cache
        self.max_kept = max_kept
        self.abandoned_after = abandoned_after
        self._slots = threading.Semaphore(max_running)
        self._ctx = _context()
        self.trainings_started = 0  # trainings begun (not found in memory): a test counts them
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
        hit = load_trained(dataset, model_name, model_config, train_config, self.cache) if self.cache is not None else None
        if hit is None:
            return None
        job = self._new_job(key, dataset, model_name, model_config, train_config)
        job._use(*hit)
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
            self.trainings_started += 1
        threading.Thread(target=job._run, args=(self.cache, self._slots, self._ctx), daemon=True,
                         name=f"watch-{model_name}-{key[:8]}").start()
        return job

    def _new_job(self, key, dataset, model_name, model_config, train_config) -> TrainingJob:
        return TrainingJob(key, dataset, model_name, model_config, train_config, self.abandoned_after)

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
