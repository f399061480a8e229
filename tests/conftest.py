"""Shared fixtures for the makemore package tests.

Tiny word lists are written to tmp_path by each test; the lecture's names.txt (real data) is
loaded once per session, and the two bigram models on it are trained once per session.
"""

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from makemore.serving.cache import DiskCache, load_or_train
from makemore.data import WordDataset
from makemore.models import MODELS
from makemore.train import TrainConfig
from makemore.runs import Run
from pg_server import free_port

# the lectures' list, a built-in list of the app (data/README.md)
LECTURE_NAMES = Path(__file__).resolve().parents[1] / "data" / "names.txt"

# One torch thread, as the app trains each model (makemore.limits.TRAINING_THREADS): the same
# numbers as the app and the benchmarks, and no two threads fighting for a core while a browser test's
# server runs beside.
torch.set_num_threads(1)

# 40 distinct short names: enough for 32/4/4 splits and a few hundred (context, next) pairs
TINY_WORDS = [
    "emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia", "harper", "evelyn",
    "abigail", "emily", "ella", "elizabeth", "camila", "luna", "sofia", "avery", "mila", "aria",
    "scarlett", "penelope", "layla", "chloe", "victoria", "madison", "eleanor", "grace", "nora", "riley",
    "zoey", "hannah", "hazel", "lily", "ellie", "violet", "lillian", "zoe", "stella", "aurora",
]


@pytest.fixture(autouse=True)
def isolated_cache_dir(tmp_path, monkeypatch):
    """Every test gets its own disk cache folder, so nothing is ever written to ~/.cache, and no
    shipped models (data/models): a test that wants them asks for them (tests/test_shipped.py); and no
    warm-up."""
    folder = tmp_path / "makemore-cache"
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(folder))
    monkeypatch.setenv("MAKEMORE_SHIPPED_DIR", "")
    # no warm-up thread (app/training/warmup.py) filling the caches that the AppTests clear between tests;
    # the servers of the browser tests turn it on again
    monkeypatch.setenv("MAKEMORE_WARMUP", "0")
    # The app's job board stops a queued or running training nobody has watched for 20 s. Pages
    # under AppTest are watched only while a test reruns them, and on a loaded machine (two test
    # workers on two cores) a queued run went unwatched that long and stopped itself. The
    # abandonment itself is tested with boards of their own (tests/test_jobs.py) and in the browser.
    from makemore import limits
    monkeypatch.setattr(limits, "ABANDONED_AFTER_SECONDS", 600)
    return folder


@pytest.fixture
def write_words(tmp_path):
    """write_words(words_or_bytes, name="words.txt") -> path of a file in tmp_path."""

    def write(content, name="words.txt"):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(("\n".join(content) + "\n").encode("utf-8"))
        return path

    return write


@pytest.fixture
def tiny_words():
    return list(TINY_WORDS)


@pytest.fixture
def tiny_dataset():
    return WordDataset("tiny.txt", list(TINY_WORDS))


@pytest.fixture(scope="session")
def names_path():
    return LECTURE_NAMES


@pytest.fixture(scope="session")
def names_dataset(names_path):
    return WordDataset.from_file(names_path)


@pytest.fixture(scope="session")
def names_cache_dir(tmp_path_factory):
    """A disk cache shared by the whole session (the CLI test reuses the bigram-nn trained here)."""
    return tmp_path_factory.mktemp("names-cache")


@pytest.fixture(scope="session")
def trained_bigrams(names_dataset, names_cache_dir):
    """Both bigram models trained on the lecture names with their default settings, once.

    Returns {name: (model, result)}. The neural one (~5-10 s on 2 cores) goes through the disk
    cache so that `python -m makemore train --model bigram-nn --cache` can reuse it.
    """
    cache = DiskCache(names_cache_dir, shipped=None)  # trained here, not the shipped files (a session fixture
    out = {}                                          # runs before the tests' own MAKEMORE_SHIPPED_DIR="")
    for name in ("bigram", "bigram-nn"):
        spec = MODELS[name]
        model, result, from_cache = load_or_train(
            names_dataset, Run(name, spec.config(), TrainConfig(**spec.train_defaults)), cache=cache
        )
        assert not from_cache  # a fresh session cache: trained now
        out[name] = (model, result)
    return out


def pytest_collection_modifyitems(config, items):
    """A test that reads the lecture's names.txt trains on 32,033 words: slow (`-m "not slow"` skips it);
    so is one on the session's Ray cluster (each actor starts a worker that imports torch)."""
    for item in items:
        if {"names_path", "names_dataset", "names_cache_dir", "ray_cluster", "ray_backend"} & set(
                getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# -----------------------------------------------------------------------------------------------
# browser tests (tests/test_browser.py and every test that drives Chromium): the server, the browser
# and the screenshots are one each for the whole run, defined here only: a session fixture imported
# into a second test module is a second fixture, and a second Playwright in one thread fails

SCREENSHOTS = pytest.StashKey[Path]()  # the folder of page screenshots, set by the browser tests
ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As root in a sandbox with no network: no setuid sandbox, no GPU, and none of the background
# connections Chromium makes at start (each would be refused and retried).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_SECONDS = 60

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # reported by the `browser` fixture, with what to do
    sync_playwright = None


def pytest_terminal_summary(terminalreporter, config):
    if SCREENSHOTS in config.stash:
        terminalreporter.write_line(f"browser screenshots, one per page: {config.stash[SCREENSHOTS]}")


@dataclass
class Server:
    url: str
    cache_dir: Path
    log: Path
    db_url: str  # its class rooms' store


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """`streamlit run app/Home.py` on a free port, with an empty model cache; stopped at the end."""
    port = free_port()
    folder = tmp_path_factory.mktemp("browser-server")
    cache_dir, log = folder / "model-cache", folder / "streamlit.log"
    db_url = f"sqlite:///{folder / 'rooms.sqlite'}"
    command = [str(Path(sys.executable).with_name("streamlit")), "run", "app/Home.py",
               "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port)]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "MAKEMORE_CACHE_DIR": str(cache_dir), "MAKEMORE_SHIPPED_DIR": "",
                                       "MAKEMORE_DB_URL": db_url, "MAKEMORE_WARMUP": "1"})  # a server as deployed: warmed up
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`{' '.join(command)}` did not come up:\n{log.read_text()}")
            time.sleep(0.2)
        yield Server(url, cache_dir, log, db_url)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
            return response.read() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="session")
def browser():
    problem = None
    if sync_playwright is None:
        problem = "the playwright package is not installed (pip install -r requirements.txt)"
    elif not Path(CHROMIUM).is_file():
        problem = f"no Chromium at {CHROMIUM}: run `bash tests/install-system.sh`"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory, pytestconfig):
    folder = tmp_path_factory.mktemp("screenshots")
    pytestconfig.stash[SCREENSHOTS] = folder  # printed at the end of the run (pytest_terminal_summary)
    print(f"browser screenshots: {folder}")
    return folder


# -----------------------------------------------------------------------------------------------
# class rooms (tests/test_rooms.py and the pages' room tests): every room test on both databases

@pytest.fixture(scope="session")
def postgres():
    from pg_server import start_postgres
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def room_db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rooms.sqlite'}"
    return request.getfixturevalue("postgres").new_database()


# -----------------------------------------------------------------------------------------------
# where trainings run (makemore/serving/backends.py): the job board's tests run on both backends


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster for the whole session, 2 CPUs, no dashboard, on 127.0.0.1. Without Ray
    installed its tests skip, except under CI=true, where they fail."""
    import os
    try:
        import ray
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("Ray is not installed (pip install -r requirements-ray.txt); CI runs the Ray tests")
        pytest.skip("Ray is not installed (pip install -r requirements-ray.txt)")
    tests = Path(__file__).resolve().parent
    # the workers import the failing train functions from the test modules, and this checkout's makemore
    path = os.pathsep.join([str(tests.parent), str(tests), os.environ.get("PYTHONPATH", "")])
    # address="local": a new cluster, never one a `ray start` left in /tmp/ray/ray_current_cluster
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", namespace="makemore",
             log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def ray_backend(ray_cluster):
    from makemore.serving.ray_backend import RayBackend
    return RayBackend()


# a Ray actor starts a fresh worker that imports torch: seconds a test, so the Ray half is slow
@pytest.fixture(params=["processes", pytest.param("ray", marks=pytest.mark.slow)])
def backend(request):
    """Where the job board's trainings run: child processes, or the session's Ray cluster."""
    if request.param == "processes":
        from makemore.serving.backends import ProcessBackend
        return ProcessBackend()
    return request.getfixturevalue("ray_backend")
