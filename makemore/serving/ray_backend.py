"""Trainings on a Ray cluster, for a lecture hall that one server's cores cannot serve.

    MAKEMORE_RAY_ADDRESS=127.0.0.1:6379 streamlit run app/Home.py   # a cluster started with `ray start`
    MAKEMORE_RAY_ADDRESS=local streamlit run app/Home.py            # a one-machine cluster, to try it

Each training is one Ray actor named after its run's cache key, so every server on the cluster
that asks for the same run gets the same actor (`get_if_exists`) and watches the same training;
each copies the finished model into its own disk cache. The actor trains in a thread and keeps
its history; a server polls it for what is new. It stays until its watchers have fetched the end,
then exits, freeing its CPU.

Imported only when MAKEMORE_RAY_ADDRESS is set (makemore/serving/backends.py): ray is an optional
install (requirements-ray.txt).
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Ray's driver ends its own process when the cluster's GCS is unreachable for 60 s. A web server
# must outlive its cluster: the trainings it watched fail with a message and it trains locally.
os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(10**8))
if os.environ.get("MAKEMORE_RAY_ADDRESS", "").strip() == "local" and not os.environ.get("RAY_AUTH_TOKEN"):
    # the one-machine cluster's token (start_local_head), set before Ray reads its settings on import
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))

import ray  # noqa: E402
from ray.exceptions import GetTimeoutError, RayActorError, RayError  # noqa: E402

from makemore.data import WordDataset  # noqa: E402
from makemore.runs import Run  # noqa: E402
from makemore.serving.backends import CRASHED, KILLED, run_training  # noqa: E402

NAMESPACE = "makemore"  # every server of a class names its actors in this one
CONNECT_SECONDS = 30  # ray.init against an address that never answers would retry for minutes
LOST_AFTER_SECONDS = 30  # a cluster silent this long is gone: its trainings fail with a message
LINGER_SECONDS = 2.0  # an ended actor waits this long after its last poll, so every watcher sees the end
ORPHANED_AFTER_SECONDS = 60  # a training nobody polls (its servers are gone) stops itself

log = logging.getLogger("makemore")


@ray.remote(num_cpus=1, max_restarts=0, max_concurrency=8)
class TrainingActor:
    """One run's training on the cluster, watched by any number of servers. A run stopped or
    failed may be asked for again: that starts a new generation, and its old watchers still get
    their own generation's end."""

    def __init__(self):
        self._lock = threading.Lock()
        self._generation = 0
        self._ends: dict[int, tuple] = {}  # generation -> ("done", ...) or ("failed", ...)
        self._complete = False  # the latest generation trained in full: share it, never redo it
        self._training = False
        self._steps, self._losses, self._val, self._seconds = [], [], [], 0.0
        self._stop = threading.Event()
        self._last_polled = time.monotonic()
        self._lingering = False
        self._closing = False  # exiting: a train() call now gets -1 and asks a new actor

    def pid(self) -> int:
        return os.getpid()

    def train(self, name: str, words: list[str], run: Run, train_fn) -> int:
        """Start the training unless it runs or is done; returns the generation to watch."""
        with self._lock:
            if self._closing:
                return -1
            if self._training or self._complete:
                return self._generation
            self._generation += 1
            self._steps, self._losses, self._val, self._seconds = [], [], [], 0.0
            self._stop, self._training = threading.Event(), True
            generation, stop = self._generation, self._stop
        threading.Thread(target=self._train, args=(generation, stop, name, words, run, train_fn),
                         daemon=True).start()
        return generation

    def _train(self, generation, stop, name, words, run, train_fn) -> None:
        def send(message):
            with self._lock:
                if message[0] == "progress":
                    _, steps, losses, val, seconds = message
                    self._steps.extend(steps)
                    self._losses.extend(losses)
                    self._val.extend(val)
                    self._seconds = seconds
                else:
                    self._ends[generation] = message
                    self._complete = message[0] == "done" and not message[1]["stopped_early"]
                    self._training = False

        def should_stop():
            return stop.is_set() or time.monotonic() - self._last_polled > ORPHANED_AFTER_SECONDS

        run_training(name, words, run, train_fn, send, should_stop)

    def poll(self, generation: int, n_steps: int, n_val: int):
        """What is new since a watcher's counts: (steps, losses, val, seconds, end or None)."""
        with self._lock:
            self._last_polled = time.monotonic()
            if generation != self._generation:
                return [], [], [], 0.0, self._ends.get(generation, ("failed", CRASHED, "the training was replaced"))
            return (self._steps[n_steps:], self._losses[n_steps:], self._val[n_val:], self._seconds,
                    self._ends.get(generation))

    def stop(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._stop.set()

    def linger(self) -> None:
        """Runs for the actor's life: it exits once no training runs and nobody polled for a while."""
        with self._lock:
            if self._lingering:
                return
            self._lingering = True
        while True:
            time.sleep(0.2)
            with self._lock:
                if not self._training and time.monotonic() - self._last_polled >= LINGER_SECONDS:
                    self._closing = True
                    break
        ray.actor.exit_actor()


def _actor_died(error: Exception) -> str:
    text = str(error)
    if "OutOfMemory" in text or "out of memory" in text.lower():
        return "the Ray worker training this model was killed because its machine ran out of memory"
    return ("the Ray worker training this model was killed (ended from outside, out of memory, or its "
            "machine left the cluster)")


class RayHandle:
    def __init__(self, backend: "RayBackend", new_actor):
        self.backend, self._new_actor = backend, new_actor
        # an actor of the same name may be exiting just now (TrainingActor.linger): then ask again
        self._retries = 20
        self.actor, self._generation = new_actor()  # the train() call's reference until it answers
        self.generation: int | None = None
        self._n_steps = self._n_val = 0
        self._poll = None  # the one poll in flight: a pending actor must not pile up calls
        self._end = None  # an end that came with the last steps, given next
        self._gone = None
        self._stopped = False

    def pid(self) -> int:
        return ray.get(self.actor.pid.remote(), timeout=30)

    def next_message(self, timeout: float):
        if self._end is not None:
            end, self._end = self._end, None
            return end
        if self._gone is not None:
            time.sleep(timeout)
            return None
        if self.generation is None:
            answer = self._answer(self._generation, timeout)
            if (answer == -1 or (answer is None and self._gone is not None)) and self._retries > 0:
                self._retries, self._gone = self._retries - 1, None
                time.sleep(0.25)
                self.actor, self._generation = self._new_actor()
                return None
            if answer is None:
                return None
            self.generation = answer
            if self._stopped:
                self.actor.stop.remote(self.generation)
        if self._poll is None:
            self._poll = self.actor.poll.remote(self.generation, self._n_steps, self._n_val)
        answer = self._answer(self._poll, timeout)
        if answer is None:
            return None
        self._poll = None
        steps, losses, val, seconds, end = answer
        self._n_steps += len(steps)
        self._n_val += len(val)
        if steps:
            self._end = end
            return "progress", steps, losses, val, seconds
        if end is None:
            time.sleep(min(timeout, 0.1))  # nothing new: poll a few times a second, no faster
        return end

    def _answer(self, ref, timeout: float):
        """The value of a call to the actor, or None (not yet, or never: then self._gone says why)."""
        ready, _ = ray.wait([ref], timeout=timeout)
        if not ready:
            if not self.backend.answering():
                self._gone = self._cluster_lost()
            return None
        try:
            return ray.get(ref, timeout=LOST_AFTER_SECONDS)
        except RayActorError as e:
            self._gone = self._cluster_lost() if self.backend.head_gone() else (KILLED, _actor_died(e))
        except (GetTimeoutError, RayError) as e:
            self._gone = (self._cluster_lost() if self.backend.head_gone() else
                          (KILLED, f"the Ray cluster failed this training ({type(e).__name__})"))
        return None

    def _cluster_lost(self):
        return (KILLED, f"the Ray cluster at {self.backend.address} stopped answering; this server trains on "
                "its own from now on: start the training again", True)

    def gone(self):
        return self._gone

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            if self.generation is not None:  # else sent once train() answers
                self.actor.stop.remote(self.generation)

    def kill(self) -> None:
        ray.kill(self.actor, no_restart=True)

    def close(self) -> None:
        pass  # the actor exits by itself once its watchers have the end (TrainingActor.linger)


class RayBackend:
    name = "ray"

    def __init__(self, address: str = "", cpus_per_training: float = 1):
        self.address = address or "this process's Ray"
        self.cpus_per_training = cpus_per_training
        self._resources = (2.0, 0.0)  # (cluster CPUs, idle CPUs), refreshed in the background
        self._last_contact = time.monotonic()
        try:
            self._gcs_address = ray.get_runtime_context().gcs_address
        except Exception:  # noqa: BLE001 - e.g. through Ray Client: then only silence tells (answering)
            self._gcs_address = ""
        self._refresh()
        threading.Thread(target=self._keep_refreshing, daemon=True, name="ray-resources").start()

    @classmethod
    def connect(cls, address: str) -> "RayBackend":
        """Connect this process to the cluster at `address` (or start a one-machine one for
        `local`); raises when it cannot be reached in CONNECT_SECONDS."""
        if ":" in address and not address.startswith("ray://"):
            host, port = address.rsplit(":", 1)
            socket.create_connection((host, int(port)), timeout=5).close()  # fails in seconds, not minutes
        if ray.is_initialized():  # this process is a driver already (a test's cluster)
            return cls(address)
        if address == "local":
            address = start_local_head()
        failure = []

        def init():
            try:
                ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
            except Exception as e:  # noqa: BLE001 - reported by the caller
                failure.append(e)

        connecting = threading.Thread(target=init, daemon=True, name="ray-connect")
        connecting.start()
        connecting.join(CONNECT_SECONDS)
        if connecting.is_alive():
            raise TimeoutError(f"no answer in {CONNECT_SECONDS} s")
        if failure:
            raise failure[0]
        log.warning("training on the Ray cluster at %s (%.0f CPUs)", address, ray.cluster_resources().get("CPU", 0))
        return cls(address)

    def _refresh(self) -> None:
        total = ray.cluster_resources().get("CPU", 0.0)
        idle = ray.available_resources().get("CPU", 0.0)
        self._resources, self._last_contact = (total, idle), time.monotonic()

    def _keep_refreshing(self) -> None:
        while True:
            time.sleep(1.0)
            try:
                self._refresh()
            except Exception:  # noqa: BLE001 - a silent cluster shows in answering()
                pass

    def answering(self) -> bool:
        return time.monotonic() - self._last_contact < LOST_AFTER_SECONDS

    def head_gone(self) -> bool:
        """Whether the cluster's head refuses connections: a dead actor then means a lost cluster (its
        trainings cannot be asked again there), not one worker killed."""
        host, _, port = self._gcs_address.rpartition(":")
        if not port.isdigit():
            return False
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            return False
        except OSError:
            return True

    def slots(self) -> int:
        return max(1, int(self._resources[0] // self.cpus_per_training))

    def free_cpus(self) -> float:
        return self._resources[1] // self.cpus_per_training

    def start(self, key: str, dataset: WordDataset, run: Run, train_fn) -> RayHandle:
        def new_actor():
            actor = TrainingActor.options(name=f"train-{key}", namespace=NAMESPACE, get_if_exists=True,
                                          lifetime="detached", num_cpus=self.cpus_per_training).remote()
            actor.linger.remote()
            # not waited for here: on a cluster full of other servers' trainings it waits for a CPU
            return actor, actor.train.remote(dataset.name, dataset.words, run, train_fn)

        return RayHandle(self, new_actor)


# -----------------------------------------------------------------------------------------------
# MAKEMORE_RAY_ADDRESS=local: a one-machine cluster in processes of its own


# Runs `ray start --head --block` (argv) and ends it once the server that started it is gone, even
# when the server was killed and its exit handlers never ran.
_HEAD_WATCH = """
import os, signal, subprocess, sys, time
server = os.getppid()
head = subprocess.Popen(sys.argv[1:])
while head.poll() is None and os.getppid() == server:
    time.sleep(1)
if head.poll() is None:
    head.terminate()
    try:
        head.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(os.getpgrp(), signal.SIGKILL)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_local_head(num_cpus: int | None = None) -> str:
    """Start `ray start --head` on 127.0.0.1 in a session of its own and return its address.

    Not ray.init() in the server's process: that cluster lost its GCS about a minute after a
    Streamlit server's warm-up, and Ray then ended the server. This one is stopped at exit; it uses
    token authentication with a token of its own, given to this process through RAY_AUTH_TOKEN."""
    port = _free_port()
    token = os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ["RAY_AUTH_MODE"] = "token"
    ray_command = Path(sys.executable).with_name("ray")
    logs = tempfile.NamedTemporaryFile(prefix="makemore-ray-head-", suffix=".log", delete=False)
    command = [str(ray_command), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
               f"--num-cpus={num_cpus or os.cpu_count() or 2}", "--include-dashboard=false",
               "--disable-usage-stats", f"--ray-client-server-port={_free_port()}",
               f"--dashboard-agent-listen-port={_free_port()}", f"--metrics-export-port={_free_port()}"]
    head = subprocess.Popen([sys.executable, "-c", _HEAD_WATCH, *command], stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    atexit.register(_stop_head, head)
    deadline = time.monotonic() + 60
    while True:
        if head.poll() is not None:
            raise RuntimeError(f"`ray start --head` ended (exit code {head.returncode}); its log: {logs.name}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                _stop_head(head)
                raise TimeoutError(f"`ray start --head` did not listen within 60 s; its log: {logs.name}")
            time.sleep(0.2)
    log.warning("started a one-machine Ray cluster at 127.0.0.1:%d (pid %d, log %s)", port, head.pid, logs.name)
    return f"127.0.0.1:{port}"


def _stop_head(head: subprocess.Popen) -> None:
    """End the head and everything it started (its session's process group)."""
    if ray.is_initialized():
        ray.shutdown()
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            return
        try:
            head.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
