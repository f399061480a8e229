"""Faults: trainings cut short, saves that fail midway, bad files in the cache folder, and two
visitors asking for the same model at once. Nothing of these may leave half a file, break a page,
or train one model twice.

(The browser version of "cut short", a slider moved and a tab closed mid-training, is in
tests/test_browser.py; the MLP's background jobs have their own in tests/test_mlp.py.)
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.testing.v1 import AppTest

import makemore.serving.cache
from makemore.serving.cache import DiskCache, load_or_train
from makemore.serving.checkpoint import Checkpoint
from makemore.models.bigram import BigramNNConfig
from makemore.train import TrainConfig
from makemore.runs import Run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
from training import shared  # noqa: E402  (the app's module: the cached training every page uses)

SHORT = TrainConfig(max_steps=40, batch_size=0, lr=0.5, eval_interval=10)


def cache_files(folder: Path) -> list[str]:
    """Every name in the cache folder, temporary files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def count_trainings(monkeypatch):
    """The list of threads that trained a model, one entry per training (makemore.serving.cache.train)."""
    trainings = []
    real_train = makemore.serving.cache.train

    def counted(*args, **kwargs):
        trainings.append(threading.current_thread().name)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(makemore.serving.cache, "train", counted)
    return trainings


# -----------------------------------------------------------------------------------------------
# a training cut short


def cut_short_at_step(step: int, exception: BaseException):
    def callback(progress):
        if progress.step == step:
            raise exception
    return callback


# What Streamlit raises in a script run's thread at its next st call (here: the progress bar in the
# training callback) when a widget changes (rerun) or the tab is closed or stopped (stop).
INTERRUPTIONS = {
    "widget change": RerunException(RerunData()),
    "closed tab": StopException(),
    "Ctrl-C": KeyboardInterrupt(),
}


@pytest.mark.parametrize("exception", INTERRUPTIONS.values(), ids=INTERRUPTIONS.keys())
def test_a_training_cut_short_saves_nothing(tmp_path, tiny_dataset, exception):
    cache = DiskCache(tmp_path / "cache")
    with pytest.raises(type(exception)):
        load_or_train(tiny_dataset, Run("bigram-nn", BigramNNConfig(), SHORT),
                      callback=cut_short_at_step(20, exception), cache=cache)
    assert cache_files(cache.folder) == []
    _, result, from_cache = load_or_train(tiny_dataset, Run("bigram-nn", BigramNNConfig(), SHORT), cache=cache)
    assert not from_cache and result.steps == 40  # asked again: trained in full, and saved
    assert len(cache_files(cache.folder)) == 1


def half_a_save(exception: BaseException):
    """A torch.save that writes part of the file, then fails."""
    def save(blob, f):
        f.write(b"PK\x03\x04 the first bytes of a zip archive, and no more")
        raise exception
    return save


@pytest.mark.parametrize("exception", [OSError(28, "No space left on device"), *INTERRUPTIONS.values()],
                         ids=["disk full", *INTERRUPTIONS.keys()])
def test_a_save_that_fails_midway_leaves_the_old_file_whole_and_no_partial_one(
        tmp_path, tiny_dataset, monkeypatch, exception):
    cache = DiskCache(tmp_path / "cache")
    model, result, _ = load_or_train(tiny_dataset, Run("bigram-nn", BigramNNConfig(), SHORT))
    checkpoint = Checkpoint.of("bigram-nn", model, BigramNNConfig(), SHORT, result, tiny_dataset)
    cache.save(checkpoint)
    path = cache.path(checkpoint.key)
    before = path.read_bytes()

    monkeypatch.setattr(makemore.serving.checkpoint.torch, "save", half_a_save(exception))
    try:
        cache.save(checkpoint)  # the same key again: a half-written file would replace it
    except BaseException as e:  # noqa: BLE001 - a disk error is swallowed; an interruption goes on up
        assert e is exception and not isinstance(e, OSError)
    monkeypatch.undo()

    assert cache_files(cache.folder) == [path.name]  # no temporary file left behind
    assert path.read_bytes() == before
    assert cache.load(checkpoint.key) is not None


# -----------------------------------------------------------------------------------------------
# bad files in the cache folder, seen from the app


@pytest.fixture
def fresh_memory():
    st.cache_resource.clear()  # the server's memory: a restart
    yield
    st.cache_resource.clear()


def open_bigram_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app" / "Home.py"), default_timeout=120).run()
    at.switch_page("stages/bigram.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_corrupt_and_foreign_files_in_the_cache_are_ignored_and_retrained(
        isolated_cache_dir, count_trainings, fresh_memory):
    open_bigram_page()
    trained_now = len(count_trainings)
    entries = sorted(isolated_cache_dir.glob("*.pt"))
    assert trained_now >= 1 and len(entries) == trained_now  # one file per model the page trained

    for entry in entries:  # truncated, as by a disk that filled up outside our atomic write
        entry.write_bytes(entry.read_bytes()[:100])
    (isolated_cache_dir / "notes.txt").write_text("a file someone left here")
    (isolated_cache_dir / "foreign.pt").write_bytes(b"\x00 not ours")
    (isolated_cache_dir / ".tmp-killed.pt").write_bytes(b"PK\x03\x04 a write cut off by kill -9")
    (isolated_cache_dir / "folder.pt").mkdir()
    st.cache_resource.clear()  # restart: the page must go to the disk

    at = open_bigram_page()
    assert len(count_trainings) == 2 * trained_now  # every corrupt entry was retrained
    assert not at.error and at.get("vega_lite_chart")
    cache = DiskCache(isolated_cache_dir)
    assert all(cache.load(entry.stem) is not None for entry in entries)  # and saved whole again


# -----------------------------------------------------------------------------------------------
# two visitors at once


def test_two_visitors_asking_for_the_same_model_at_once_train_it_once(tiny_dataset, count_trainings,
                                                                      monkeypatch, fresh_memory):
    """The second visitor asks while the first one's training runs, waits for it and gets its model."""
    second_is_waiting = threading.Event()
    results = {}

    def visit():
        results[threading.current_thread().name] = shared.trained(tiny_dataset, Run("bigram-nn",
                                                                   BigramNNConfig(), SHORT))

    def notice_waiting(frame, event, arg):
        # A profile hook in the second visitor's thread: it is about to acquire a lock that is held
        # (the first visitor's, for this model), so it will wait for the first training.
        lock = getattr(arg, "__self__", None)
        if event == "c_call" and getattr(arg, "__name__", "") == "acquire" and getattr(lock, "locked", None):
            if lock.locked():
                second_is_waiting.set()

    def second_visit():
        sys.setprofile(notice_waiting)
        try:
            visit()
        finally:
            sys.setprofile(None)

    second = threading.Thread(target=second_visit, name="second visitor")
    counted_train = makemore.serving.cache.train

    def first_training(*args, **kwargs):
        if second.ident is None:  # not started yet, so this is the first visitor's training: hold it
            second.start()
            assert second_is_waiting.wait(60), "the second visitor never waited for the first's training"
        return counted_train(*args, **kwargs)

    monkeypatch.setattr(makemore.serving.cache, "train", first_training)
    visit()
    second.join(60)
    assert not second.is_alive()
    assert count_trainings == [threading.current_thread().name]  # trained once, by the first visitor
    assert results["second visitor"] is results[threading.current_thread().name]  # both got that model
    assert results["second visitor"].result.steps == SHORT.max_steps
