"""The work every page shares, done once per server process in a background thread from the
server's start, so that the first visitor of each page does not wait for it (issue 22: on a fresh
server the first visit of a page took 5-14 s, later ones under 1 s).

    warmup.start()   # the first call starts the thread, later calls return it

Home.py's st.App starts it when `streamlit run app/Home.py` starts the server (its lifespan), while
the first browser is still loading Streamlit's front end; Home.py's run_app calls it too, for a
server that runs the script without the st.App (AppTest). The training children import Home.py as
__mp_main__ and never call it.

First what the home page draws (the default list, its figures and charts: no torch), then what the
other pages import (torch, the models), the examples the Bigram page reads, torch's and Altair's
first calls (each pays a one-time set-up), every default and preset model shipped for the default
list onto the job board the pages share (training.shared.job_board), and the defaults' numbers for
the Compare page (kit.comparison.model_numbers). It never trains: a model that is not shipped stays
missing, as it would be for the page.

It gives way to visitors: between two pieces of work it waits while a page is running (Home.py
wraps each run in `visiting()`) and for QUIET_SECONDS after, at most GIVE_WAY_SECONDS each time, so a
busy classroom does not hold it back forever.

It stops at the server's stop (Home.py's lifespan) and at the process's exit (atexit): `stop()` makes
it end at its next give_way and waits for it. A process that exited with the thread inside torch
(its first forward pass starts torch's thread pool) died with "terminate called without an active
exception" (SIGABRT, exit 134), and with it every semaphore its trainings held was reported leaked.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from contextlib import contextmanager

from streamlit.logger import get_logger

_LOGGER = get_logger(__name__)  # Streamlit's handler and level: into the server's log
GIVE_WAY_SECONDS = 10.0  # longer than a cold page run on a busy server; short enough for a busy class
# A visitor's click may bring more than one script run a moment apart (a rerun, a page switch): the
# warm-up waits for a quiet moment this long, not only for the end of a run (without it, the home
# page's first visit was slower than with no warm-up at all).
QUIET_SECONDS = 0.3
# The longest piece of work between two give_ways (importing torch on a busy server: 6 s measured):
# stop() waits this long for the thread, and no longer, so a stuck step cannot hold an exit forever.
STOP_SECONDS = 60.0
_lock = threading.Lock()
_thread: threading.Thread | None = None
_runs = 0  # script runs going on now
_last_run_ended = 0.0  # time.monotonic()
_no_runs = threading.Condition(_lock)
finished = threading.Event()
_stopping = threading.Event()
seconds: dict[str, float] = {}  # step -> how long it took (for the log and the tests)
failures: dict[str, str] = {}  # step -> what went wrong; a failed step only costs its page the wait


def start() -> threading.Thread | None:
    """The warm-up thread of this process, started on the first call; None with MAKEMORE_WARMUP=0
    (the tests run the app in their own process under AppTest, and clear and refill its caches)."""
    global _thread
    if os.environ.get("MAKEMORE_WARMUP", "1") == "0":
        return None
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="makemore-warmup", daemon=True)
            _thread.start()
            atexit.register(stop)  # before the interpreter tears torch down under it
        return _thread


class Stopped(Exception):
    """The server is stopping: the warm-up ends where it is."""


def stop(timeout: float = STOP_SECONDS) -> bool:
    """Make the warm-up end at its next give_way and wait for it (at most `timeout` seconds); True
    once no warm-up thread runs. A started warm-up does not start again in this process."""
    with _lock:
        _stopping.set()
        _no_runs.notify_all()
        thread = _thread
    if thread is None or thread is threading.current_thread():
        return True
    thread.join(timeout)
    return not thread.is_alive()


@contextmanager
def visiting():
    """Around a script run: the warm-up waits until it is over (or GIVE_WAY_SECONDS have passed)."""
    global _runs, _last_run_ended
    with _lock:
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            _last_run_ended = time.monotonic()
            _no_runs.notify_all()


def give_way() -> None:
    """Wait until no page has run for QUIET_SECONDS, at most GIVE_WAY_SECONDS; raise Stopped once
    stop() was called."""
    deadline = time.monotonic() + GIVE_WAY_SECONDS
    with _lock:
        while time.monotonic() < deadline:
            if _stopping.is_set():
                raise Stopped
            quiet_in = _last_run_ended + QUIET_SECONDS - time.monotonic()
            if _runs == 0 and quiet_in <= 0:
                return
            until = quiet_in if _runs == 0 else GIVE_WAY_SECONDS  # a run's end notifies
            _no_runs.wait(timeout=max(0.01, min(deadline - time.monotonic(), until)))


def _run() -> None:
    t0 = time.perf_counter()
    # From the server's start it shares the GIL with the server's event loop, which is sending the
    # first browser Streamlit's front end: hand it over every 1 ms, not 5 (the home page's first
    # chart came 0.4 s later with 5 ms)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        for step in (home_page, import_pages_dependencies, default_dataset, first_torch_and_altair_calls,
                     shipped_models, compared_defaults):
            give_way()
            started = time.perf_counter()
            try:
                step()
            except Stopped:
                raise
            except Exception as error:  # the page does the same work itself later, and reports any error
                failures[step.__name__] = f"{type(error).__name__}: {error}"
                _LOGGER.warning("warm-up step %s failed: %s", step.__name__, error)
            seconds[step.__name__] = time.perf_counter() - started
    except Stopped:
        _LOGGER.info("warm-up stopped with the server after %.1f s", time.perf_counter() - t0)
    else:
        _LOGGER.info("warm-up done in %.1f s (%s)", time.perf_counter() - t0,
                     ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items()))
    finally:
        sys.setswitchinterval(switch_interval)
        finished.set()


def home_page() -> None:
    """The first page a visitor opens: the default list and its figures and charts, in the home
    page's caches, each chart converted once (Altair's first validation pays a set-up)."""
    from kit.dataset_views import dataset_charts, dataset_stats
    from kit.datasets_ui import DEFAULT, load_builtin

    dataset = load_builtin(DEFAULT)
    dataset_stats(dataset.fingerprint, dataset)
    for chart in dataset_charts(dataset.fingerprint, dataset):
        chart.to_dict()


def import_pages_dependencies() -> None:
    import altair  # noqa: F401
    import pandas  # noqa: F401
    import torch  # noqa: F401

    import charts  # noqa: F401
    import kit.comparison  # noqa: F401
    import kit.model_import  # noqa: F401
    import kit.model_views  # noqa: F401
    import kit.presets  # noqa: F401
    import kit.results  # noqa: F401
    import kit.training_ui  # noqa: F401
    import kit.widgets  # noqa: F401
    import training.live  # noqa: F401
    import training.shared  # noqa: F401
    import makemore.lesson.backprop  # noqa: F401
    import makemore.lesson.engine  # noqa: F401
    import makemore.models.recurrent  # noqa: F401
    import makemore.models.transformer  # noqa: F401
    import makemore.models.wavenet  # noqa: F401
    import makemore.rooms.store  # noqa: F401


def default_dataset():
    """The default list through the pages' cache (st.cache_resource is shared by every session and
    needs no script run to be filled, only the server's runtime), with the examples the Bigram
    page evaluates its counts on."""
    from kit.datasets_ui import DEFAULT, load_builtin

    dataset = load_builtin(DEFAULT)
    for split in ("train", "val"):
        dataset.examples(split, 1)
    return dataset


def first_torch_and_altair_calls() -> None:
    """torch's first forward pass over a large batch took a second more than its second (thread
    pool and kernel set-up), Altair's first validation of a layered chart 0.4 s more: pay both here,
    with the Bigram page's own calls (its counts' losses, into the page's cache; its heatmap)."""
    import pandas as pd

    import charts
    from kit.bigram_numbers import counts_nll
    from makemore.serving.cache import DiskCache, load_or_train
    from makemore.models import MODELS

    dataset = default_dataset()
    counts = load_or_train(dataset, MODELS["bigram"].default_run(),
                           cache=DiskCache()).model  # counting takes a moment: never a long training
    for alpha, split in ((counts.alpha, "train"), (counts.alpha, "val"), (0.0, "train")):  # the page's three
        counts_nll(dataset.fingerprint, alpha, split, dataset, counts)
    cells = pd.DataFrame([("a", "b", "ab", 1, 0.5), ("b", "a", "ba", 2, 0.5)],
                         columns=["prev", "next", "pair", "count", "prob"])
    charts.pair_heatmap(cells).to_dict()
    history = pd.DataFrame({"step": [1, 2, 2], "loss": [3.0, 2.5, 2.6], "split": ["train", "train", "val"]})
    charts.loss_curve(history, reference=2.45, reference_label="counts").to_dict()  # every training page's


def shipped_models() -> None:
    """Every page's default and preset models: their cost estimate (the first one runs a model under
    torch's FLOP counter, which imports torch._dynamo: 1-4 s) and the models shipped for them, from
    disk onto the board the pages share (what each page's first view, and the Compare page, looks
    up), in the sidebar's order; for each default, the validation examples it reads (Compare
    evaluates every default on them)."""
    from kit.datasets_ui import DEFAULT, load_builtin
    from registry import STAGES
    from training.shared import job_board
    from makemore.estimate import training_seconds
    from makemore.models import MODELS
    from makemore.train import split_tensors

    dataset = load_builtin(DEFAULT)
    board = job_board()
    for stage in STAGES:
        for name in stage.models:
            spec = MODELS[name]
            default = spec.default_run()
            for run in [default, *(spec.preset_run(preset) for preset in spec.presets)]:
                give_way()
                training_seconds(run.model_name, dataset, run.model_config, run.train_config)  # kept (lru_cache)
                job = board.find(dataset, run)
                if job is not None and job.finished and run == default:
                    split_tensors(job.model, dataset, "val")  # kept by the dataset


def compared_defaults() -> None:
    """The Compare page's numbers for every shipped default (its val loss and its loss at each
    position of the val words): 10-20 s of evaluation on a busy server, once, in the page's own
    cache (st.cache_data; its spinner draws nothing outside a script run)."""
    from kit.comparison import defaults, model_numbers
    from kit.datasets_ui import DEFAULT, load_builtin
    from kit.results import Run
    from training.shared import job_board

    dataset = load_builtin(DEFAULT)
    board = job_board()
    for default in defaults().values():
        give_way()
        job = board.find(dataset, default)
        if job is not None and job.finished:
            run = Run.of_job(job)
            model_numbers(run.ident, dataset.fingerprint, run, dataset)
