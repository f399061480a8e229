"""Predict, then train (issue 34, item 12), under AppTest on SQLite and on PostgreSQL (room_db_url):
the teacher puts the MLP page's run to the class, the students predict on the room's page, the
teacher's page records the server's own result (a run trained before the class: when the teacher
shows it; a run trained in front of the class: as its training ends), and the board shows the
predictions' histogram, the result and who came closest. Bounds, removal and many students at once."""

import json
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from makemore import limits
from makemore.data import WordDataset
from makemore.rooms import RoomStore
from makemore.rooms.words import room_list
from makemore.runs import Run

from conftest import TINY_WORDS

APP = Path(__file__).resolve().parent.parent / "app"
HOME = str(APP / "Home.py")
sys.path.insert(0, str(APP))
from kit import polls_ui  # the app's modules: the same job board the pages use in this process
from training import shared

CLASS_ROOM = "class_room.py"
MLP = "stages/mlp.py"
ASK = "Ask the class to predict this run's val loss"
CHART_TITLE = "The class's predictions of its val loss"


@pytest.fixture(autouse=True)
def rooms_app(monkeypatch, room_db_url):
    monkeypatch.setenv("MAKEMORE_DB_URL", room_db_url)
    st.cache_resource.clear()  # the store and the trained models, shared by every AppTest in this process
    yield
    st.cache_resource.clear()


@pytest.fixture
def store(room_db_url):
    opened = RoomStore(room_db_url)
    yield opened
    opened.close()


def app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=120)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    ok(at)
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at, label):
    return next(b for b in at.button if b.label == label)


def labels(at) -> list[str]:
    return [b.label for b in at.button]


def texts(at) -> list[str]:
    return [t.value for t in at.text]


def student(code, nickname) -> AppTest:
    """A student who opened the join link and picked a nickname: on the room's page."""
    at = app({"room": code})
    at.text_input(key="join_nickname").set_value(nickname)
    button(at, "Join").click().run()
    assert not at.error, [e.value for e in at.error]
    return ok(at)


def teacher_on_mlp(opened, query: dict | None = None) -> AppTest:
    at = app({"room": opened.code, "teacher": opened.teacher_key})
    for name, value in (query or {}).items():
        at.query_params[name] = value
    return ok(at.switch_page(MLP).run())


def predict(at, value) -> AppTest:
    """Type a prediction into the room page's (only) open poll and send it."""
    at.switch_page(CLASS_ROOM).run()
    field = next(n for n in at.number_input if n.key.startswith("poll_"))
    field.set_value(value)
    next(b for b in at.button if b.label in ("Send my prediction", "Change my prediction")).click().run()
    return ok(at)


def poll_charts(at) -> list[list[dict]]:
    """Each predictions' histogram on the page, as the rows it ships (a layered chart: every layer's)."""
    return [[row for d in c.proto.datasets for row in pa.ipc.open_stream(d.data.data).read_all().to_pylist()]
            for c in at.get("vega_lite_chart") if CHART_TITLE in c.proto.spec]


def finish(at) -> AppTest:
    """Wait for every training on the job board, watched as the live view would, then rerun the page."""
    deadline = time.monotonic() + 180
    for job in list(shared.job_board()._jobs.values()):
        while not job.wait(0.5):
            job.seen()
            assert time.monotonic() < deadline, "training did not finish"
        assert job.status == "done", job.stop_reason or job.error
    return ok(at.run())


def test_a_poll_on_a_shipped_run_hides_its_result_until_the_teacher_shows_it_then_the_board_names_who_came_closest(
        store, names_dataset, monkeypatch):
    monkeypatch.delenv("MAKEMORE_SHIPPED_DIR")  # the MLP page's default ships in data/models: nothing to train
    opened = store.create_room("Lecture 2", *room_list(names_dataset))
    teacher = teacher_on_mlp(opened)
    assert any(m.label == "val loss" for m in teacher.metric)  # the shipped default, shown before any poll
    button(teacher, ASK).click().run()
    ok(teacher)
    [poll] = store.polls(opened.code)
    assert poll.open and poll.stage == "mlp" and poll.model == "mlp" and poll.link.startswith("stages/mlp.py")
    assert Run.from_dict(poll.settings).key(names_dataset) == poll.run_key  # the page's run, as trained
    assert ASK not in labels(teacher)  # one poll at a time on a run
    assert not any(m.label == "val loss" for m in teacher.metric)  # hidden while the class predicts
    assert any("result stays hidden" in i.value for i in teacher.info)
    assert shared.job_board().trainings_started == 0

    ada, bob = student(opened.code, "ada"), student(opened.code, "bob")
    assert any(n.key == f"poll_{poll.id}_value" for n in ada.number_input)
    ada.switch_page(MLP).run()
    assert any(i.value.startswith("Your teacher asks for a prediction") for i in ada.info)
    predict(ada, 2.2)
    predict(bob, 2.6)
    predict(bob, 2.5)  # a new value replaces bob's own, not ada's
    assert {p.nickname: p.value for p in store.polls(opened.code)[0].predictions} == {"ada": 2.2, "bob": 2.5}
    assert not poll_charts(ada.run())  # the others' predictions stay hidden until the result is in
    assert "Open: 2 of 2 students have predicted." in texts(ada)
    ada.switch_page(MLP).run()
    assert any(i.value == "Your teacher asks for a prediction: you have sent yours." for i in ada.info)

    button(teacher.run(), "Show the result to the class").click().run()
    ok(teacher)
    job = shared.job_board()._jobs[poll.run_key]
    [poll] = store.polls(opened.code)
    assert not poll.open and poll.result == job.result.val_loss and poll.params == job.result.params
    assert [p.nickname for p in poll.closest] == ["ada"]
    assert any(m.label == "val loss" for m in teacher.metric)
    assert any("closest ada" in s.value for s in teacher.success)
    assert shared.job_board().trainings_started == 0  # the server's own result, of the shipped model

    board = ok(ada.switch_page(CLASS_ROOM).run())
    assert any(t.startswith("Closest: ada (2.2000, off by") for t in texts(board))
    [data] = poll_charts(board)
    [spec] = [json.loads(c.proto.spec) for c in board.get("vega_lite_chart") if CHART_TITLE in c.proto.spec]
    assert spec["layer"][0]["encoding"]["y2"] == {"datum": 0}  # bars up from the axis, not slivers at their count
    assert sum(r["predictions"] for r in data if "predictions" in r) == 2
    assert any(r.get("label") == f"result {poll.result:.4f}" for r in data)  # the result's rule
    assert any(m.label == "result: val loss" and m.value == f"{poll.result:.4f}" for m in board.metric)
    csv = store.export_polls_csv(opened.code)
    assert "ada" in csv and "bob" in csv


def test_a_run_trained_in_front_of_the_class_records_its_result_as_it_ends(store):
    opened = store.create_room("Tiny", *room_list(WordDataset("tiny.txt", list(TINY_WORDS))))
    teacher = teacher_on_mlp(opened, {"mlp_steps": "500"})
    button(teacher, ASK).click().run()
    ada = student(opened.code, "ada")
    predict(ada, 3.0)
    teacher.run()
    assert any("Press **Train** when they are ready" in i.value for i in teacher.info)
    teacher.button(key="mlp_train").click().run()
    finish(teacher)
    [poll] = store.polls(opened.code)
    job = shared.job_board()._jobs[poll.run_key]
    assert poll.result == job.result.val_loss and [p.nickname for p in poll.closest] == ["ada"]
    assert not any(b.label == "Show the result to the class" for b in teacher.button)  # the class saw it train


def test_a_prediction_out_of_bounds_is_refused_with_a_message_and_a_student_notes_one_before_train(store):
    opened = store.create_room("Tiny", *room_list(WordDataset("tiny.txt", list(TINY_WORDS))))
    teacher = teacher_on_mlp(opened, {"mlp_steps": "500"})
    button(teacher, ASK).click().run()
    ada = predict(student(opened.code, "ada"), limits.MAX_PREDICTION + 2)
    bounds = f"from {limits.MIN_PREDICTION:g} to {limits.MAX_PREDICTION:g}"
    assert [e.value for e in ada.error] == [f"Type the val loss you expect: a number {bounds}."]
    assert store.polls(opened.code)[0].predictions == []

    ada.query_params["mlp_steps"] = "1000"
    ada.switch_page(MLP).run()
    own = next(n for n in ada.number_input if n.label == "Your prediction of its val loss (optional)")
    own.set_value(2.75).run()
    ok(ada)
    assert list(ada.session_state["room_predictions"].values()) == [2.75]
    assert next(iter(ada.session_state["room_predictions"])) == own.key.removeprefix("room_prediction_")
    ada.button(key="mlp_train").click().run()
    finish(ada)
    [posted] = store.board(opened.code).runs
    assert posted.predicted == 2.75 and posted.settings["training"]["max_steps"] == 1000  # beside its result


def test_a_removed_members_prediction_is_gone_and_the_teacher_can_end_a_poll(store):
    opened = store.create_room("Tiny", *room_list(WordDataset("tiny.txt", list(TINY_WORDS))))
    teacher = teacher_on_mlp(opened, {"mlp_steps": "500"})
    button(teacher, ASK).click().run()
    predict(student(opened.code, "ada"), 2.4)
    predict(student(opened.code, "bob"), 2.9)
    bob = next(m for m in store.board(opened.code).members if m.nickname == "bob")
    store.remove_member(opened.code, opened.teacher_key, bob.id)
    assert [p.nickname for p in store.polls(opened.code)[0].predictions] == ["ada"]

    teacher.switch_page(CLASS_ROOM).run()
    teacher.session_state["teacher_tab"] = "Polls"
    teacher.run()
    assert teacher.get("download_button")  # every prediction as CSV
    button(teacher, "End it without a result").click().run()
    ok(teacher)
    [poll] = store.polls(opened.code)
    assert not poll.open and poll.result is None
    [data] = poll_charts(teacher)
    assert [r["who"] for r in data] == ["ada"]  # nor in the histogram's tooltips
    assert "Ended by the teacher without a result." in texts(teacher)


def test_thirty_students_predicting_at_once_lose_nothing(store):
    opened = store.create_room("Tiny", *room_list(WordDataset("tiny.txt", list(TINY_WORDS))))
    teacher = teacher_on_mlp(opened, {"mlp_steps": "500"})
    button(teacher, ASK).click().run()
    [poll] = store.polls(opened.code)
    members = [store.join(opened.code, f"student{i}") for i in range(30)]
    start = threading.Barrier(30)

    def send(i):
        start.wait()
        store.predict(opened.code, members[i].token, poll.id, 2.0 + i / 100)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    got = {p.nickname: p.value for p in store.polls(opened.code)[0].predictions}
    assert got == {f"student{i}": 2.0 + i / 100 for i in range(30)}
    time.sleep(polls_ui.BOARD_SECONDS + 0.1)  # the page's board, read before they predicted, is this old at most
    teacher.switch_page(CLASS_ROOM).run()
    assert "Open: 30 of 30 students have predicted." in texts(ok(teacher))
