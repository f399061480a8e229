"""Where a training runs: one small interface and the default implementation, child processes.

    backend = ProcessBackend()
    handle = backend.start(key, dataset, run, train_fn)
    handle.next_message(0.2)   # ("progress", steps, losses, val, seconds), ("done", result, weights),
                               # ("failed", failure, sentence), or None when nothing came yet
    handle.gone()              # (failure, sentence) once it ended without a word, else None
    handle.stop()              # finish after the current step, keeping what was trained
    handle.kill()              # end it now (the time limit)
    handle.close()             # free what it holds

The job board (makemore/serving/jobs.py) drives any backend the same way. The other one is Ray
(makemore/serving/ray_backend.py), chosen by MAKEMORE_RAY_ADDRESS (`backend_from_environment`).
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import queue
import signal
import time

import torch

from makemore import limits
from makemore.data import WordDataset
from makemore.runs import Run
from makemore.serving.checkpoint import build_model
from makemore.train import Progress

DIVERGED, CRASHED, KILLED, TIMED_OUT = "diverged", "crashed", "killed", "timed out"  # job.failure
SEND_EVERY_SECONDS = 0.1  # progress goes out in batches: a page redraws once a second

log = logging.getLogger("makemore")


def run_training(name: str, words: list[str], run: Run, train_fn, send, should_stop) -> None:
    """Train where this is called (a child process, a Ray worker), sending ("progress", ...) batches
    and then one ("done", result, weights) or ("failed", failure, sentence) through `send`.

    train_fn is makemore.train.train (tests pass one that fails on purpose)."""
    # One core per training: two OpenMP threads on a 2-core server stall whenever anything else
    # runs (a page being drawn, another training), and these small matrices gain little from two.
    torch.set_num_threads(limits.TRAINING_THREADS)
    try:
        dataset = WordDataset(name, words)
        model = build_model(run.model_name, len(dataset.vocab), run.model_config, seed=run.train_config.seed)
        pending = ([], [], [])
        last_sent = time.monotonic()

        def send_progress(seconds):
            nonlocal pending, last_sent
            send(("progress", *pending, seconds))
            pending, last_sent = ([], [], []), time.monotonic()

        def callback(p: Progress) -> bool:
            pending[0].append(p.step)
            pending[1].append(p.loss)
            if p.val_loss is not None:
                pending[2].append((p.step, p.val_loss))
            if time.monotonic() - last_sent > SEND_EVERY_SECONDS:
                send_progress(p.seconds)
            return should_stop()

        result = train_fn(model, dataset, run.train_config, callback=callback)
        if pending[0]:
            send_progress(result.seconds)
        # as bytes: a tensor sent through a Queue is shared by file descriptor, which breaks once
        # the sending process exits
        weights = io.BytesIO()
        torch.save(model.state_dict(), weights)
        send(("done", result.to_dict(), weights.getvalue()))
    except FloatingPointError as e:
        send(("failed", DIVERGED, str(e)))
    except Exception as e:  # the board shows the reason; a training must never end silently
        send(("failed", CRASHED, f"the training process failed with {type(e).__name__}: {e}"))


# -----------------------------------------------------------------------------------------------
# child processes: the default


def _context():
    # "forkserver": children fork from a clean helper process with torch imported, never from the
    # threaded web server (forking a process with threads and OpenMP state can deadlock)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["makemore.serving.backends", "makemore.serving.jobs",
                                "makemore.serving.forkserver_warmup"])
    return ctx


def _train_in_child(messages, stop, name, words, run: Run, train_fn) -> None:
    run_training(name, words, run, train_fn, messages.put, stop.is_set)


def _ended(exitcode: int | None) -> str:
    """Why a child process ended without a word, in a sentence."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return (f"the training process was killed ({name}), most likely because the server ran out of "
                    "memory")
        return f"the training process was ended from outside ({name})"
    return f"the training process ended unexpectedly (exit code {exitcode})"


class ProcessHandle:
    def __init__(self, process, messages, stop):
        self.process, self.messages, self._stop = process, messages, stop

    def pid(self) -> int:
        return self.process.pid

    def next_message(self, timeout: float):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def gone(self):
        if self.process.is_alive() or not self.messages.empty():
            return None
        self.process.join(timeout=1)
        return (KILLED if (self.process.exitcode or 0) < 0 else CRASHED), _ended(self.process.exitcode)

    def stop(self) -> None:
        self._stop.set()  # the child checks it after every step

    def kill(self) -> None:
        self.process.kill()

    def close(self) -> None:
        """End the child and free its queue's and event's semaphores now: each is a named POSIX
        semaphore that lives until its object is collected, and a finished job keeps its handle, so a
        server that had trained a few runs ended with "64 leaked semaphore objects" when it did not get
        to run its exit finalizers."""
        if self.messages is None:
            return  # closed already
        self._stop.set()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.messages.close()  # this side only reads: no feeder thread to wait for
        self.messages = self._stop = None  # their last references: collected, their semaphores unlinked


class ProcessBackend:
    """Each training in a child process of this server, forked from a process that has torch loaded
    (so a start costs milliseconds, not an import)."""

    name = "processes"

    def __init__(self):
        self._ctx = _context()

    def slots(self) -> int:
        return limits.MAX_CONCURRENT_TRAININGS

    def free_cpus(self) -> float:
        return float("inf")  # only the board's own slots count

    def start(self, key: str, dataset: WordDataset, run: Run, train_fn) -> ProcessHandle:
        messages, stop = self._ctx.Queue(), self._ctx.Event()
        process = self._ctx.Process(target=_train_in_child, daemon=True, name=f"train-{key[:8]}",
                                    args=(messages, stop, dataset.name, dataset.words, run, train_fn))
        process.start()
        return ProcessHandle(process, messages, stop)


# -----------------------------------------------------------------------------------------------
# the choice

_from_environment = None


def backend_from_environment():
    """The backend this server trains on: Ray when MAKEMORE_RAY_ADDRESS names a cluster (or `local`)
    that answers, else child processes. Made once a process: every board shares its connection."""
    global _from_environment
    if _from_environment is None:
        _from_environment = _choose(os.environ.get("MAKEMORE_RAY_ADDRESS", "").strip())
    return _from_environment


def _choose(address: str):
    if not address:
        return ProcessBackend()
    try:
        from makemore.serving.ray_backend import RayBackend  # imports ray: only when asked for
    except ImportError as e:
        log.warning("MAKEMORE_RAY_ADDRESS is set but Ray is not installed (%s): training in child processes "
                    "(pip install -r requirements-ray.txt)", e)
        return ProcessBackend()
    try:
        return RayBackend.connect(address)
    except Exception as e:  # noqa: BLE001 - any failure to reach the cluster leaves the default
        log.warning("Ray cluster %r unreachable (%s): training in child processes", address, e)
        return ProcessBackend()
