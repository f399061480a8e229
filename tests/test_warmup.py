"""app/training/warmup.py: the work every page shares, done once per server process in the background.

Each test runs in a process of its own (the warm-up is once per process, and other tests' AppTests
would have started it already in this one): the app under AppTest, as the first visitor would open
it, with a shipped-models folder holding one default model for the default list."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pg_server import free_port

ROOT = Path(__file__).resolve().parent.parent

FIRST_VISITS = """
import json, sys, threading, time
sys.path[:0] = [{root!r}, {app!r}]
from streamlit.testing.v1 import AppTest

home = AppTest.from_file({home!r}, default_timeout=120)
home.run()
from training import warmup  # the module the app's run imported
thread = warmup.start()
busy_after_the_first_run = thread.is_alive() and not warmup.finished.is_set()
home.run()  # a second run, and a second visitor: no second warm-up
AppTest.from_file({home!r}, default_timeout=120).run()
threads = [t.name for t in threading.enumerate() if t.name == thread.name]
assert warmup.finished.wait(180), "the warm-up did not finish"

from kit.datasets_ui import DEFAULT, load_builtin
from training import shared
from makemore.estimate import forward_cost
from makemore.models import MODELS

t0 = time.perf_counter()
dataset = load_builtin(DEFAULT)
load_seconds = time.perf_counter() - t0
key = shared.job_board().key(dataset, MODELS["mlp"].default_run())
print(json.dumps({{
    "same_thread": warmup.start() is thread, "threads": threads, "thread": thread.name,
    "script_thread": threading.current_thread().name, "busy_after_the_first_run": busy_after_the_first_run,
    "failures": warmup.failures, "steps": sorted(warmup.seconds), "load_seconds": load_seconds,
    "examples": sorted(str(k) for k in dataset._examples), "forward_costs": forward_cost.cache_info().currsize,
    "on_the_board": key in shared.job_board()._jobs,
}}))
"""


def shipped_mlp(folder: Path) -> None:
    """The MLP's default run on the default list, as `makemore pretrain` ships it (weights untrained:
    only where it is found matters here)."""
    sys.path.insert(0, str(ROOT / "app"))
    from kit.datasets_ui import DATA_DIR, DEFAULT

    from makemore.serving.checkpoint import Checkpoint, save_checkpoint
    from makemore.data import WordDataset
    from makemore.models import MODELS, create_model
    from makemore.train import TrainConfig, TrainResult

    dataset = WordDataset.from_file(DATA_DIR / DEFAULT)
    config, train_config = MODELS["mlp"].config(), TrainConfig(**MODELS["mlp"].train_defaults)
    model = create_model("mlp", len(dataset.vocab), config, seed=train_config.seed)
    result = TrainResult(params=1, steps=train_config.max_steps, seconds=1.0, train_loss=2.2, val_loss=2.2,
                         test_loss=2.2)
    checkpoint = Checkpoint.of("mlp", model, config, train_config, result, dataset)
    save_checkpoint(folder / f"{checkpoint.key}.pt", checkpoint)


def run_python(code: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MAKEMORE_CACHE_DIR": str(tmp_path / "cache"), "MAKEMORE_WARMUP": "1",
                               **env})


def test_the_warm_up_runs_once_per_process_in_the_background_and_fills_the_pages_caches(tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shipped_mlp(shipped)
    code = FIRST_VISITS.format(root=str(ROOT), app=str(ROOT / "app"), home=str(ROOT / "app" / "Home.py"))
    done = run_python(code, tmp_path, MAKEMORE_SHIPPED_DIR=str(shipped))
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["same_thread"] and out["threads"] == [out["thread"]]  # once, however many runs and visitors
    assert out["thread"] != out["script_thread"]
    # it waits for the first visitor's page (which needs no torch) and then works on after that run ended
    assert out["busy_after_the_first_run"]
    assert out["failures"] == {}
    assert out["steps"] == ["compared_defaults", "default_dataset", "first_torch_and_altair_calls", "home_page",
                            "import_pages_dependencies", "shipped_models"]
    assert out["load_seconds"] < 0.05  # the pages' own dataset cache: a hit
    assert "('train', 1)" in out["examples"] and "('val', 1)" in out["examples"]  # the Bigram page's
    assert out["forward_costs"] > 0  # the cost estimates' forward passes, kept for the pages
    assert out["on_the_board"]  # the shipped model, found for the MLP page


def test_streamlit_run_warms_the_server_up_at_its_start_before_any_visitor(tmp_path):
    """`streamlit run app/Home.py` serves Home.py's st.App, whose lifespan starts the warm-up while the
    first browser is still loading Streamlit's front end: here no browser ever connects."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shipped_mlp(shipped)
    log = tmp_path / "streamlit.log"
    command = [str(Path(sys.executable).with_name("streamlit")), "run", "app/Home.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(free_port())]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={
            **os.environ, "MAKEMORE_CACHE_DIR": str(tmp_path / "cache"), "MAKEMORE_SHIPPED_DIR": str(shipped),
            "MAKEMORE_DB_URL": f"sqlite:///{tmp_path / 'rooms.sqlite'}", "MAKEMORE_WARMUP": "1"})
    try:
        deadline = time.monotonic() + 180
        while "warm-up done" not in (text := log.read_text(errors="replace")):
            assert server.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.2)
        assert "warm-up step" not in text  # no step failed
        done = next(line for line in text.splitlines() if "warm-up done" in line)
        for step in ("home_page", "import_pages_dependencies", "default_dataset", "first_torch_and_altair_calls",
                     "shipped_models", "compared_defaults"):
            assert f"{step} " in done, done
    finally:
        server.kill()  # it trained nothing and holds nothing to save: no graceful stop needed
        server.wait()


def test_a_training_child_process_does_not_run_the_warm_up(tmp_path):
    # A training child (multiprocessing's forkserver or spawn) runs the parent's __main__, Home.py,
    # once more as __mp_main__: exactly this.
    code = textwrap.dedent(f"""
        import runpy, sys, threading
        runpy.run_path({str(ROOT / "app" / "Home.py")!r}, run_name="__mp_main__")
        print(sorted(m for m in ("training.warmup", "streamlit", "altair", "pandas") if m in sys.modules),
              [t.name for t in threading.enumerate() if "warm" in t.name])
    """)
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[] []"


def test_the_warm_up_waits_while_a_page_runs(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "app")!r}]
        from training import warmup
        with warmup.visiting():  # as Home.py runs each page
            warmup.start()
            time.sleep(1.0)
            during = dict(warmup.seconds)
        assert warmup.finished.wait(180)
        print(during, sorted(warmup.seconds), warmup.failures)
    """)
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == ("{} ['compared_defaults', 'default_dataset', "
                                                    "'first_torch_and_altair_calls', 'home_page', "
                                                    "'import_pages_dependencies', 'shipped_models'] {}")


def test_no_warm_up_when_it_is_turned_off(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "app")!r}]
        from training import warmup
        print(warmup.start())
    """)
    done = run_python(code, tmp_path, MAKEMORE_WARMUP="0")
    assert done.returncode == 0 and done.stdout.strip() == "None", done.stderr[-3000:]


HOME_ALONE = """
import json, sys
sys.path[:0] = [{root!r}, {app!r}]
from streamlit.testing.v1 import AppTest

home = AppTest.from_file({home!r}, default_timeout=120)
home.run()
assert not home.exception, [e.value for e in home.exception]
print(json.dumps({{"torch": "torch" in sys.modules, "sqlalchemy": "sqlalchemy" in sys.modules,
                  "charts": len(home.get("vega_lite_chart"))}}))
"""


def test_the_home_page_imports_no_torch_so_a_first_visitor_does_not_wait_for_it():
    """Every page's sidebar (the dataset picker, the class room's line) runs before the home page:
    none of it may bring torch, which the warm-up imports in the background (seconds on a cold server),
    nor the class rooms' SQL store, which a visitor outside a room never opens."""
    script = HOME_ALONE.format(root=str(ROOT), app=str(ROOT / "app"), home=str(ROOT / "app" / "Home.py"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "MAKEMORE_WARMUP": "0"}, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["charts"] >= 1 and not seen["torch"] and not seen["sqlalchemy"], seen


# -----------------------------------------------------------------------------------------------
# a clean stop at any moment of the warm-up (issue 34, item 11): a process that ended while the warm-up
# was inside torch (its first forward pass starts torch's thread pool) died with "terminate called
# without an active exception" (SIGABRT, exit 134)

ENDS_DURING = """
import sys, time
sys.path[:0] = [{root!r}, {app!r}]
from streamlit.testing.v1 import AppTest

AppTest.from_file({home!r}, default_timeout=120).run()
from training import warmup
deadline = time.monotonic() + 180
while {after!r} not in warmup.seconds:  # the step before: the process ends during the one after it
    assert time.monotonic() < deadline and not warmup.finished.is_set(), warmup.seconds
    time.sleep(0.01)
print("ending with", sorted(warmup.seconds), flush=True)
"""

# "default_dataset": it ends in first_torch_and_altair_calls, where every such exit aborted
ENDED_AFTER = ["home_page", pytest.param("import_pages_dependencies", marks=pytest.mark.slow), "default_dataset",
               pytest.param("first_torch_and_altair_calls", marks=pytest.mark.slow),
               pytest.param("shipped_models", marks=pytest.mark.slow)]


@pytest.mark.parametrize("after", ENDED_AFTER)
def test_a_process_that_opens_the_app_under_apptest_and_ends_during_the_warm_up_exits_cleanly(tmp_path, after):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shipped_mlp(shipped)
    code = ENDS_DURING.format(root=str(ROOT), app=str(ROOT / "app"), home=str(ROOT / "app" / "Home.py"), after=after)
    done = run_python(code, tmp_path, MAKEMORE_SHIPPED_DIR=str(shipped))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "ending with" in done.stdout and "warm-up stopped with the server" in output
    assert "terminate called" not in output and "leaked semaphore" not in output


def wait_for(log: Path, text: str, server: subprocess.Popen, seconds: float = 180) -> str:
    deadline = time.monotonic() + seconds
    while text not in (seen := log.read_text(errors="replace")):
        assert server.poll() is None and time.monotonic() < deadline, seen
        time.sleep(0.05)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("after_start", [0.0, 2.0, 5.0, 9.0])
def test_ctrl_c_at_any_moment_of_the_warm_up_stops_the_server_cleanly(tmp_path, after_start):
    """`streamlit run app/Home.py`, Ctrl+C a moment after it said where it serves: from the warm-up's
    first step to its longest. Ctrl+C is a SIGINT to the terminal's whole process group: the server,
    and the forkserver and resource tracker it started."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shipped_mlp(shipped)
    log = tmp_path / "streamlit.log"
    command = [str(Path(sys.executable).with_name("streamlit")), "run", "app/Home.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(free_port())]
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                  env={**os.environ, "MAKEMORE_CACHE_DIR": str(tmp_path / "cache"),
                                       "MAKEMORE_SHIPPED_DIR": str(shipped), "MAKEMORE_WARMUP": "1",
                                       "MAKEMORE_DB_URL": f"sqlite:///{tmp_path / 'rooms.sqlite'}"})
    try:
        wait_for(log, "URL:", server)
        time.sleep(after_start)
        os.killpg(server.pid, signal.SIGINT)
        returncode = server.wait(90)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    text = log.read_text(errors="replace")
    # uvicorn raises the SIGINT it caught once more after its graceful shutdown, and Streamlit's command
    # line (click) reports that KeyboardInterrupt as "Aborted!", exit status 1: any st.App's clean Ctrl+C
    assert returncode in (0, 1), text
    assert "warm-up stopped with the server" in text or "warm-up done" in text, text  # ended, not cut off
    assert "terminate called" not in text and "leaked semaphore" not in text and "Traceback" not in text, text
