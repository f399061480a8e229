"""A small classroom in the browser (bench/classroom.py with N = 3, in a class room): a freshly started
server with an empty cache and the shipped models; three students join one room by its join link,
visit every page at once, each of which must show a chart with no click and no exception, then each
trains a setting of their own to the end, and finds it on the room's board (the server's own post,
read back from its store) while the teacher's view is on the projector. And the
first visitor of a fresh server, alone, opening each page through the sidebar: a chart on every
page, and no request to another host than the server.
(The full N = 30 run is the benchmark: `python bench/classroom.py`; its figures are in the README.)"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import classroom  # noqa: E402  (bench/classroom.py)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def need_chromium() -> None:
    if not Path(classroom.CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {classroom.CHROMIUM}: CI must run the browser tests")
        pytest.skip(f"no Chromium at {classroom.CHROMIUM}: run `bash tests/install-system.sh`")


@pytest.fixture(scope="module")
def report():
    need_chromium()
    result = classroom.run(3, room=True)
    print(classroom.summary(result))
    return result


def test_every_student_sees_every_page_with_a_chart_and_no_exception_on_a_fresh_server(report):
    assert report.problems() == []
    for session in report.sessions:
        assert set(session.first_chart) == {*classroom.PAGES, classroom.BOARD}
        assert all(seconds is not None for seconds in session.first_chart.values())
        assert session.joined_in is not None


def test_every_student_trains_a_setting_of_their_own_to_the_end(report):
    assert [s.trained_in is not None for s in report.sessions] == [True] * 3
    assert report.cpu_trainings > 0 and report.peak_bytes > 0


def test_every_students_own_training_is_on_the_rooms_board(report):
    assert report.room.members == 3
    assert report.room.students_with_a_run == 3 and report.room.runs >= 3


@pytest.fixture(scope="module")
def first_visits():
    need_chromium()
    result = classroom.run_first_visits()
    print(classroom.first_visits_summary(result))
    return result


def test_the_first_visitor_of_each_page_through_the_sidebar_sees_a_chart_and_the_browser_asks_no_other_host(
        first_visits):
    assert first_visits.error is None and first_visits.exceptions == []
    assert set(first_visits.first_chart) == set(classroom.FIRST_VISIT_PAGES)
    assert all(seconds is not None for seconds in first_visits.first_chart.values())
    # the favicon is served by the app (app/assets): an offline classroom's browsers log no errors
    assert first_visits.foreign_requests == []


@pytest.fixture(scope="module")
def ray_report():
    need_chromium()
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("Ray is not installed (pip install -r requirements-ray.txt); CI runs the Ray tests")
        pytest.skip("Ray is not installed (pip install -r requirements-ray.txt)")
    result = classroom.run(3, ray=True)  # the server started with MAKEMORE_RAY_ADDRESS=local
    print(classroom.summary(result))
    return result


def test_three_students_on_a_server_training_on_ray_see_every_page_and_train_their_own(ray_report):
    assert ray_report.problems() == []
    assert [s.trained_in is not None for s in ray_report.sessions] == [True] * 3
