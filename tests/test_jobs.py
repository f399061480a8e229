"""makemore.serving.jobs: trainings in child processes that a page watches live: progress, stop, sharing,
queueing, and failures that say what happened and leave the next training a clean start."""

import math
import os
import threading
import time

import pytest
import torch

from makemore.serving.cache import DiskCache
from makemore.data import WordDataset
from makemore.serving.jobs import CRASHED, DIVERGED, DONE, FAILED, KILLED, QUEUED, RUNNING, STOPPED, TIMED_OUT, JobBoard
from makemore.models import create_model
from makemore.models.bigram import BigramNNConfig
from makemore.models.mlp import MLPConfig
from makemore.train import TrainConfig, train
from makemore.runs import Run

from conftest import TINY_WORDS


@pytest.fixture(scope="module")
def tiny():
    return WordDataset("tiny", TINY_WORDS)


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


QUICK = TrainConfig(max_steps=200, batch_size=16, optimizer="adamw", lr=0.01, eval_interval=50)


def test_job_trains_in_the_background_and_is_found_again(backend, tiny, tmp_path):
    board = JobBoard(DiskCache(tmp_path), backend=backend)
    assert board.find(tiny, Run("mlp", MLPConfig(), QUICK)) is None
    job = board.start(tiny, Run("mlp", MLPConfig(), QUICK))
    assert job.wait(60) and job.status == DONE
    snap = job.snapshot()
    assert snap.steps == list(range(1, 201)) and len(snap.val) == 4
    assert board.find(tiny, Run("mlp", MLPConfig(), QUICK)) is job
    assert board.start(tiny, Run("mlp", MLPConfig(), QUICK)) is job  # nothing is trained twice
    # a new server (empty board) finds it on disk, trained by nobody
    again = JobBoard(DiskCache(tmp_path), backend=backend).find(tiny, Run("mlp", MLPConfig(), QUICK))
    assert again.status == DONE and again.from_disk and again.result.val_loss == job.result.val_loss
    assert again.snapshot().steps == snap.steps


def test_two_visitors_asking_at_once_share_one_training(backend, tiny, tmp_path):
    board = JobBoard(DiskCache(tmp_path), backend=backend)
    jobs = []
    threads = [threading.Thread(target=lambda: jobs.append(board.start(tiny, Run("mlp", MLPConfig(), QUICK))))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(j) for j in jobs}) == 1
    assert jobs[0].wait(60) and jobs[0].status == DONE and board.trainings_started == 1


def test_stop_keeps_the_partial_model_and_saves_nothing(backend, tiny, tmp_path):
    board = JobBoard(DiskCache(tmp_path), backend=backend)
    long = TrainConfig(max_steps=200_000, batch_size=16, optimizer="adamw", lr=0.01)
    job = board.start(tiny, Run("mlp", MLPConfig(), long))
    wait_until(lambda: job.snapshot().step >= 20)
    job.stop()
    assert job.wait(60) and job.status == STOPPED
    assert job.result.stopped_early and 20 <= job.result.steps < 200_000
    assert job.model is not None and math.isfinite(job.result.val_loss)
    assert list(tmp_path.glob("*.pt")) == []  # a partial model is never cached
    # asking again starts a fresh run rather than showing the stopped one
    fresh = board.start(tiny, Run("mlp", MLPConfig(), long))
    assert fresh is not job
    fresh.stop()
    fresh.wait(60)


def test_an_unwatched_job_stops_itself(backend, tiny):
    board = JobBoard(None, abandoned_after=0.2, backend=backend)
    job = board.start(tiny, Run("mlp", MLPConfig(), TrainConfig(max_steps=200_000, batch_size=16)))
    assert job.wait(60) and job.status == STOPPED and job.stop_reason == "nobody was watching"


def test_a_job_whose_viewer_is_still_connected_keeps_going_unseen(backend, tiny):
    # a busy server redraws a waiting page late: the tab being open is what counts, not the redraws
    open_tabs = {"tab-a"}
    board = JobBoard(None, abandoned_after=0.2, connected=lambda viewer: viewer in open_tabs, backend=backend)
    job = board.start(tiny, Run("mlp", MLPConfig(), TrainConfig(max_steps=200_000, batch_size=16)), viewer="tab-a")
    wait_until(lambda: job.snapshot().step >= 5)
    time.sleep(0.6)  # three times abandoned_after, unseen
    assert job.status == RUNNING and not job.abandoned
    open_tabs.clear()  # the tab is closed
    assert job.wait(60) and job.status == STOPPED and job.stop_reason == "nobody was watching"


def test_jobs_beyond_the_limit_wait_for_a_slot(backend, tiny):
    board = JobBoard(None, max_running=1, backend=backend)
    long = TrainConfig(max_steps=200_000, batch_size=16)
    first = board.start(tiny, Run("mlp", MLPConfig(), long))
    second = board.start(tiny, Run("mlp", MLPConfig(), TrainConfig(max_steps=100, batch_size=16)))
    wait_until(lambda: first.snapshot().step >= 5)
    assert second.status == QUEUED
    first.stop()
    assert second.wait(60) and second.status == DONE


def test_a_config_the_child_refuses_fails_the_job_with_its_reason(backend, tiny):
    board = JobBoard(None, backend=backend)
    # the child process builds the model; a config it refuses is the simplest failure to cause
    job = board.start(tiny, Run("mlp", MLPConfig(init="zeros"), QUICK))
    assert job.wait(60) and job.status == FAILED and "unknown init" in job.error and job.model is None
    assert job.failure == CRASHED
    retry = board.start(tiny, Run("mlp", MLPConfig(init="zeros"), QUICK))  # a failed run may be retried
    assert retry is not job and retry.wait(60)


def test_a_job_trains_exactly_as_train_does(backend, tiny):
    job = JobBoard(None, backend=backend).start(tiny, Run("mlp", MLPConfig(), QUICK))
    assert job.wait(60) and job.status == DONE
    model = create_model("mlp", len(tiny.vocab), MLPConfig(), seed=QUICK.seed)
    direct = train(model, tiny, QUICK)
    assert job.result.loss_history == direct.loss_history and job.result.val_loss == direct.val_loss
    assert job.snapshot().losses == direct.loss_history
    trained = job.model.state_dict()
    assert all(torch.equal(trained[name], value) for name, value in model.state_dict().items())


def test_a_killed_training_process_fails_the_job_cleanly(backend, tiny, tmp_path):
    import signal
    board = JobBoard(DiskCache(tmp_path), backend=backend)
    job = board.start(tiny, Run("mlp", MLPConfig(), TrainConfig(max_steps=200_000, batch_size=16)))
    wait_until(lambda: job.snapshot().step >= 5)
    os.kill(job._handle.pid(), signal.SIGKILL)  # as the out-of-memory killer would
    assert job.wait(60) and job.status == FAILED and job.failure == KILLED
    assert "killed" in job.error and "out of memory" in job.error
    if backend.name == "processes":
        assert "killed (SIGKILL)" in job.error
    assert list(tmp_path.iterdir()) == []  # nothing half-written in the cache
    assert_next_training_starts_cleanly(board, tiny)


def test_a_ray_actor_killed_from_outside_fails_the_job_as_killed(ray_backend, tiny):
    import ray
    board = JobBoard(None, backend=ray_backend)
    job = board.start(tiny, Run("mlp", MLPConfig(), TrainConfig(max_steps=200_000, batch_size=16)))
    wait_until(lambda: job.snapshot().step >= 5)
    ray.kill(job._handle.actor)  # what a lost node or `ray kill` does: ActorDiedError
    assert job.wait(60) and job.status == FAILED and job.failure == KILLED and "Ray worker" in job.error
    assert_next_training_starts_cleanly(board, tiny)


def test_a_queued_job_whose_tab_closed_never_starts(backend, tiny):
    board = JobBoard(None, max_running=1, abandoned_after=0.5, backend=backend)
    first = board.start(tiny, Run("mlp", MLPConfig(), TrainConfig(max_steps=200_000, batch_size=16)))
    queued = board.start(tiny, Run("mlp", MLPConfig(), QUICK))
    wait_until(lambda: first.seen() or first.snapshot().step >= 5)  # watched while a Ray actor starts
    time.sleep(0.6)  # nobody looks at the queued one
    first.seen()
    first.stop()
    assert queued.wait(60) and queued.status == STOPPED and queued.result is None
    assert queued.snapshot().steps == []


# -----------------------------------------------------------------------------------------------
# failures, each caused on purpose in the child: the board passes `train_fn` to the child process,
# which imports it from this module


def crashing_train(model, dataset, config, callback=None):
    raise RuntimeError("a bug in the training code")


def sleeping_train(model, dataset, config, callback=None):
    time.sleep(60)
    return train(model, dataset, config, callback=callback)


def training_left(job) -> bool:
    """Whether the process or Ray actor that trained this job still exists."""
    handle = job._handle
    if hasattr(handle, "process"):
        return handle.process.is_alive()
    import ray
    try:
        ray.get(handle.actor.pid.remote(), timeout=10)
        return True
    except ray.exceptions.RayActorError:
        return False


def assert_next_training_starts_cleanly(board, dataset):
    """A failure frees its slot and leaves no process: the next training runs at once, to the end."""
    import multiprocessing
    wait_until(lambda: not [p for p in multiprocessing.active_children() if p.name.startswith("train-")], 10)
    for job in board._jobs.values():
        if job._handle is not None:
            wait_until(lambda: not training_left(job), 15)
    ok = board.start(dataset, Run("mlp", MLPConfig(n_hidden=32), TrainConfig(max_steps=20, batch_size=16)), estimate=1)
    assert ok.wait(60) and ok.status == DONE, ok.error


def test_an_error_in_the_training_code_is_reported_as_a_crash(backend, tiny):
    board = JobBoard(None, max_running=1, train_fn=crashing_train, backend=backend)
    job = board.start(tiny, Run("mlp", MLPConfig(), QUICK))
    assert job.wait(60) and job.status == FAILED and job.failure == CRASHED
    assert "RuntimeError: a bug in the training code" in job.error and job.model is None
    board.train_fn = train
    assert_next_training_starts_cleanly(board, tiny)


def test_a_loss_that_becomes_infinite_is_reported_as_diverged(backend, tiny):
    board = JobBoard(None, max_running=1, backend=backend)
    job = board.start(tiny, Run("bigram-nn", BigramNNConfig(), TrainConfig(max_steps=50, batch_size=0, lr=1e38)))
    assert job.wait(60) and job.status == FAILED and job.failure == DIVERGED
    assert "learning rate" in job.error and "too high" in job.error
    assert_next_training_starts_cleanly(board, tiny)


def test_a_training_past_the_time_limit_is_ended_and_reported(backend, tiny):
    board = JobBoard(None, max_running=1, time_limit=1.0, train_fn=sleeping_train, backend=backend)
    job = board.start(tiny, Run("mlp", MLPConfig(), QUICK))
    assert job.wait(30) and job.status == FAILED and job.failure == TIMED_OUT
    assert "longer than the 1 s" in job.error
    wait_until(lambda: not training_left(job), 10)  # ended, not left sleeping
    board.train_fn, board.time_limit = train, 600
    assert_next_training_starts_cleanly(board, tiny)


# -----------------------------------------------------------------------------------------------
# the queue


def test_queued_jobs_know_their_place_and_a_wait_from_the_work_ahead(backend, tiny):
    board = JobBoard(None, max_running=1, abandoned_after=30, backend=backend)
    long = TrainConfig(max_steps=200_000, batch_size=16)
    running = board.start(tiny, Run("mlp", MLPConfig(), long), estimate=100)
    wait_until(lambda: running.snapshot().step >= 5)
    second = board.start(tiny, Run("mlp", MLPConfig(n_hidden=32), QUICK), estimate=10)
    third = board.start(tiny, Run("mlp", MLPConfig(n_hidden=48), QUICK), estimate=20)
    wait_until(lambda: second.status == QUEUED and third.status == QUEUED)
    assert running.status == RUNNING and board.queue_position(running) == 0
    assert [board.queue_position(second), board.queue_position(third)] == [1, 2]
    left = running.remaining_seconds()  # from its own progress, not its estimate
    assert board.wait_seconds(second) == pytest.approx(left, rel=0.5)
    assert board.wait_seconds(third) >= board.wait_seconds(second) + 9  # and the 10 s of the second
    running.stop()
    assert second.wait(60) and third.wait(60)
    assert board.queue_position(second) == board.queue_position(third) == 0


@pytest.mark.parametrize("value, expected", [("4", 4), ("1", 1), ("0", 2), ("many", 2), ("", 2)])
def test_a_classroom_server_sets_its_trainings_at_once_from_the_environment(value, expected):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "from makemore import limits; print(limits.MAX_CONCURRENT_TRAININGS)"],
                         env={**os.environ, "MAKEMORE_TRAININGS": value}, capture_output=True, text=True, check=True)
    assert int(out.stdout) == expected


# -----------------------------------------------------------------------------------------------
# Ray: several servers on one cluster, and a cluster that is not there


def test_two_servers_on_one_cluster_share_one_training_and_each_caches_it(ray_backend, tiny, tmp_path):
    # two boards stand for two Streamlit replicas behind a load balancer, each with its own cache folder
    first = JobBoard(DiskCache(tmp_path / "a"), backend=ray_backend)
    second = JobBoard(DiskCache(tmp_path / "b"), backend=ray_backend)
    run = Run("mlp", MLPConfig(), TrainConfig(max_steps=3000, batch_size=16, eval_interval=500))
    a = first.start(tiny, run)
    wait_until(lambda: a.snapshot().step >= 5)
    b = second.start(tiny, run)
    wait_until(lambda: b.snapshot().step >= 5)
    pids = {a._handle.pid(), b._handle.pid()}
    assert len(pids) == 1  # one actor, one worker process: trained once
    assert a.wait(120) and b.wait(120) and a.status == b.status == DONE
    assert a.snapshot().steps == b.snapshot().steps == list(range(1, 3001))  # both watched all of it
    assert a.result.loss_history == b.result.loss_history
    assert len(list((tmp_path / "a").glob("*.pt"))) == len(list((tmp_path / "b").glob("*.pt"))) == 1


def test_an_unreachable_cluster_says_so_and_trains_in_processes(caplog):
    import logging
    import socket
    from makemore.serving import backends
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once it is closed
    with caplog.at_level(logging.WARNING, logger="makemore"):
        started = time.monotonic()
        chosen = backends._choose(f"127.0.0.1:{port}")
    assert isinstance(chosen, backends.ProcessBackend) and time.monotonic() - started < 30
    lines = [r.getMessage() for r in caplog.records]
    if any("not installed" in line for line in lines):
        return  # without Ray, that is the one line to say
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "unreachable" in lines[0]
    assert "child processes" in lines[0]


def test_a_cluster_that_stops_answering_fails_its_trainings_and_the_board_falls_back(ray_backend, tiny,
                                                                                      monkeypatch):
    import ray
    from makemore.serving import ray_backend as module
    from makemore.serving.backends import ProcessBackend
    from makemore.serving.ray_backend import RayBackend
    # a backend whose trainings ask for more CPUs than the cluster has: they never start, as on a cluster gone
    silent = RayBackend(cpus_per_training=64)
    board = JobBoard(None, max_running=1, backend=silent)
    job = board.start(tiny, Run("mlp", MLPConfig(), QUICK))
    time.sleep(1.0)
    assert job.status == RUNNING and job.snapshot().step == 0
    monkeypatch.setattr(silent, "answering", lambda: False)  # what 30 s without an answer looks like
    assert job.wait(30) and job.status == FAILED and job.failure == KILLED
    assert "stopped answering" in job.error and "start the training again" in job.error
    wait_until(lambda: isinstance(board.backend, ProcessBackend), 10)
    ray.kill(job._handle.actor)
    again = board.start(tiny, Run("mlp", MLPConfig(), QUICK))
    assert again.wait(60) and again.status == DONE and hasattr(again._handle, "process")
    assert module.LOST_AFTER_SECONDS <= 60  # bounded: a student never waits forever


# A server whose real cluster dies mid-training: the head and every Ray process of it killed at once,
# as when its machine goes. Run in a process of its own (the "server"), apart from the test's cluster.
CLUSTER_LOST_SERVER = """
import json, os, signal, sys, time
from pathlib import Path
from makemore.data import WordDataset
from makemore.models.mlp import MLPConfig
from makemore.runs import Run
from makemore.serving import ray_backend
from makemore.serving.backends import ProcessBackend
from makemore.serving.jobs import JobBoard
from makemore.train import TrainConfig

def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            sys.exit("timed out")
        time.sleep(0.05)

words = WordDataset("tiny", sys.argv[1].split(","))
board = JobBoard(None)  # as a server with MAKEMORE_RAY_ADDRESS=local starts: its own head
assert board.backend.name == "ray", board.backend
address = board.backend.address
job = board.start(words, Run("mlp", MLPConfig(), TrainConfig(max_steps=200_000, batch_size=16)))
wait_until(lambda: job.snapshot().step >= 5, 120)
port = address.rsplit(":", 1)[1]
def argv(pid):
    try:
        return (Path("/proc") / pid / "cmdline").read_bytes().split(b"\\0")
    except OSError:
        return []
(watcher,) = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and b"-c" in argv(pid)
              and f"--port={port}".encode() in argv(pid)]
os.killpg(watcher, signal.SIGKILL)  # the watcher leads the session of the head and all it started
killed = time.monotonic()
job.wait(ray_backend.LOST_AFTER_SECONDS + 60)
failed_after = time.monotonic() - killed
wait_until(lambda: isinstance(board.backend, ProcessBackend), 10)
again = board.start(words, Run("mlp", MLPConfig(), TrainConfig(max_steps=100, batch_size=16)))
again.wait(120)
time.sleep(max(0.0, 75 - (time.monotonic() - killed)))  # past Ray's own 60 s end of a driver without its GCS
print(json.dumps({"status": job.status, "error": job.error, "failed_after": failed_after,
                  "again": again.status, "again_in_a_process": hasattr(again._handle, "process")}))
"""


@pytest.mark.slow
def test_a_real_cluster_lost_mid_training_fails_it_with_a_message_and_the_server_trains_on(ray_cluster):
    import json
    import subprocess
    import sys
    from makemore.serving.ray_backend import LOST_AFTER_SECONDS
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {"MAKEMORE_RAY_ADDRESS": "local"}
    out = subprocess.run([sys.executable, "-c", CLUSTER_LOST_SERVER, ",".join(TINY_WORDS)], env=env,
                         capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]  # the server outlived its cluster
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["status"] == FAILED and "stopped answering" in seen["error"], seen
    assert "start the training again" in seen["error"]
    assert seen["failed_after"] < LOST_AFTER_SECONDS + 10  # never waits forever for a cluster that is gone
    assert seen["again"] == DONE and seen["again_in_a_process"]


def test_without_a_ray_address_nothing_imports_ray():
    # the app's install has no Ray: a board, its backend and a training never reach for it
    import subprocess
    import sys
    code = ("import sys; from makemore.serving.jobs import JobBoard; board = JobBoard(None); "
            "print(board.backend.name, 'ray' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "MAKEMORE_RAY_ADDRESS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["processes", "False"]


def test_a_finished_training_leaves_no_semaphore_behind_even_when_the_server_dies(tmp_path):
    """Each training's queue and stop event hold named semaphores; a finished job keeps its handle, so
    they lived as long as the server and one that died without its exit finalizers left "64 leaked
    semaphore objects" for the resource tracker to report. The handle frees them when it closes."""
    import subprocess
    import sys
    code = f"""
import os, sys
sys.path[:0] = [{os.getcwd()!r}, {os.path.dirname(__file__)!r}]
from conftest import TINY_WORDS
from makemore.data import WordDataset
from makemore.models.mlp import MLPConfig
from makemore.runs import Run
from makemore.serving.jobs import JobBoard
from makemore.train import TrainConfig
if __name__ == "__main__":
    tiny = WordDataset("tiny", TINY_WORDS)
    board = JobBoard(None)
    jobs = [board.start(tiny, Run("mlp", MLPConfig(n_hidden=16 + i), TrainConfig(max_steps=20, batch_size=16)))
            for i in range(2)]
    print([job.wait(120) and job.status for job in jobs], flush=True)
    os.abort()  # no exit finalizers, as when the server was killed
"""
    script = tmp_path / "dies.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "['done', 'done']", done.stderr[-3000:]
    assert "leaked semaphore" not in done.stderr, done.stderr[-3000:]
