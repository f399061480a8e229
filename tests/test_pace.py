"""makemore.estimate.pace and the job board's use of it: estimates scaled by how this server's recent
trainings compared with theirs (issue 34, item 10). The board is fed finished trainings with known
estimates and seconds, on a clock the test moves: no timing."""

import threading
import time

import pytest

from makemore.data import WordDataset
from makemore.estimate.pace import Pace
from makemore.models.mlp import MLPConfig
from makemore.runs import Run
from makemore.serving.jobs import DONE, QUEUED, RUNNING, JobBoard
from makemore.train import TrainConfig

from conftest import TINY_WORDS


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pace_of(*ratios: float, clock=None) -> Pace:
    pace = Pace(clock or Clock())
    for ratio in ratios:
        pace.observe(estimate=20.0, seconds=20.0 * ratio)
    return pace


def test_one_training_is_not_enough_to_scale_the_estimates():
    pace = pace_of(1.9)
    assert pace.factor() == 1.0 and pace.seconds(33) == 33 and pace.note() == "" and pace.headline() == ""


def test_two_slow_trainings_scale_the_estimates_by_their_median_and_say_so():
    pace = Pace(Clock())
    pace.observe(estimate=33.0, seconds=62.0)  # the MLP
    pace.observe(estimate=35.0, seconds=60.0)  # and its WaveNet
    factor = (62 / 33 + 60 / 35) / 2
    assert pace.factor() == pytest.approx(factor)
    assert pace.seconds(33.0) == pytest.approx(33 * factor)
    assert pace.headline() == "this server is slower than usual right now"
    assert pace.note() == "this server is slower than usual right now: recent trainings took 1.8× their estimate"


def test_the_median_of_the_last_ten_ignores_an_outlier_and_older_trainings():
    pace = pace_of(9.0, 9.0, 9.0, *[2.0] * 9, 40.0)  # the three oldest fall out of the last ten
    assert pace.observed() == [2.0] * 9 + [40.0]
    assert pace.factor() == 2.0  # the one training that took 40× its estimate does not move it


def test_the_factor_is_bounded_both_ways():
    assert pace_of(12.0, 30.0).factor() == 5.0
    assert pace_of(0.1, 0.2).factor() == 0.5
    quick = pace_of(0.6, 0.6)
    assert quick.factor() == pytest.approx(0.6) and quick.headline() == "this server is quicker than usual right now"
    assert quick.note().endswith("recent trainings took 0.6× their estimate")


def test_a_small_difference_leaves_the_estimate_as_it_is():
    assert pace_of(1.2, 1.2).factor() == 1.0 and pace_of(0.85, 0.85).note() == ""
    assert pace_of(1.25, 1.25).factor() == 1.25


def test_only_the_trainings_of_the_last_fifteen_minutes_count():
    clock = Clock()
    pace = pace_of(2.0, 2.0, clock=clock)
    clock.now += 14 * 60
    pace.observe(estimate=10.0, seconds=30.0)
    assert pace.factor() == 2.0  # median of 2, 2, 3
    clock.now += 2 * 60  # the first two are now 16 minutes old
    assert pace.observed() == [3.0] and pace.factor() == 1.0  # one is not enough
    clock.now += 14 * 60
    assert pace.observed() == []


@pytest.mark.parametrize("estimate, seconds", [(None, 10.0), (0.0, 10.0), (-1.0, 10.0), (10.0, 0.0),
                                               (float("nan"), 10.0), (10.0, float("nan"))])
def test_a_training_without_a_usable_estimate_or_time_is_not_counted(estimate, seconds):
    pace = pace_of(2.0)
    pace.observe(estimate, seconds)
    assert pace.observed() == [2.0]


# -----------------------------------------------------------------------------------------------
# the board: its finished trainings feed its pace, and its queue's wait is scaled by it


class HeldHandle:
    """A training that sends nothing until the test lets it end: a job stays RUNNING with no progress,
    so its time left is its estimate (times the pace), exactly."""

    def __init__(self):
        self.ended = threading.Event()

    def next_message(self, timeout):
        self.ended.wait(timeout)
        return None

    def gone(self):
        return ("killed", "ended by the test") if self.ended.is_set() else None

    def stop(self):
        self.ended.set()

    def kill(self):
        self.ended.set()

    def close(self):
        self.ended.set()


class HeldBackend:
    name = "held"

    def __init__(self):
        self.handles = []

    def slots(self):
        return 1

    def free_cpus(self):
        return float("inf")

    def start(self, key, dataset, run, train_fn):
        self.handles.append(HeldHandle())
        return self.handles[-1]


@pytest.fixture(scope="module")
def tiny():
    return WordDataset("tiny", TINY_WORDS)


def run_of(hidden: int) -> Run:
    return Run("mlp", MLPConfig(n_hidden=hidden), TrainConfig(max_steps=100, batch_size=16))


def test_the_queue_s_wait_is_scaled_as_the_pages_estimates_are(tiny):
    backend = HeldBackend()
    board = JobBoard(None, backend=backend, abandoned_after=600, pace=pace_of(2.0, 2.0))
    running = board.start(tiny, run_of(16), estimate=30.0)
    second = board.start(tiny, run_of(24), estimate=10.0)
    third = board.start(tiny, run_of(32), estimate=20.0)
    try:
        deadline = time.monotonic() + 30
        while not (running.status == RUNNING and second.status == QUEUED and third.status == QUEUED):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert board.wait_seconds(second) == 60.0  # the running one's 30 s, on a server twice as slow
        assert board.wait_seconds(third) == 80.0  # and the second's 10 s, twice
        board.pace = Pace()  # no recent trainings: the estimates as they are
        assert board.wait_seconds(second) == 30.0 and board.wait_seconds(third) == 40.0
    finally:
        for job in (running, second, third):
            job.stop()
        for handle in backend.handles:
            handle.ended.set()
        for job in (running, second, third):
            job.wait(30)


def test_a_training_finished_on_the_board_is_counted_with_its_estimate(tiny):
    board = JobBoard(None)  # child processes, as the server trains
    job = board.start(tiny, run_of(16), estimate=1000.0)
    assert job.wait(120) and job.status == DONE
    (ratio,) = board.pace.observed()
    assert 0 < ratio < 0.2  # it took seconds, not the 1,000 it was said to take
    # one without an estimate, a stopped one, and one found on the disk are not counted
    board.start(tiny, run_of(24)).wait(120)
    stopped = board.start(tiny, Run("mlp", MLPConfig(), TrainConfig(max_steps=200_000, batch_size=16)),
                          estimate=50.0)
    stopped.stop()
    stopped.wait(60)
    assert board.pace.observed() == [ratio]
