"""A model a student only opened (shipped with the app, or trained earlier on this server) is labelled
so in the page's runs, the page says that opening is not training and how to make a run of one's
own, and it is neither in Compare's "My runs" nor on a class room's board (issue 34, item 6).

The pages read the shipped models (data/models), as a fresh server does; one test trains a short MLP."""

import sys
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from makemore.data import WordDataset
from makemore.rooms import RoomStore
from makemore.rooms.words import room_list

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
sys.path.insert(0, str(APP))
from kit.results import MY_RUNS, OPENED_EARLIER, OPENED_SHIPPED, TRAINED_BY_YOU  # noqa: E402
from training import shared  # noqa: E402  (the app's module: the same job board the pages use in this process)

COLUMN = "trained or opened"
OPENED = "You opened this model; you did not train it."


@pytest.fixture(autouse=True)
def shipped_app(monkeypatch, tmp_path):
    monkeypatch.delenv("MAKEMORE_SHIPPED_DIR")  # the shipped models on, as a fresh deployment has them
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_resource.clear()
    yield
    for job in list(shared.job_board()._jobs.values()):
        job.stop()
        job.wait(30)
    st.cache_resource.clear()


def check(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(page: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    check(at.run())
    return check(at.switch_page(page).run())


def runs_table(at: AppTest):
    return next(df.value for df in at.dataframe if COLUMN in df.value.columns)


def infos(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


def my_run_count(at: AppTest) -> int:
    return len(at.session_state[MY_RUNS]) if MY_RUNS in at.session_state else 0


def my_runs_message(at: AppTest) -> str:
    """Compare's "My runs" with nothing in it: its message."""
    check(at.switch_page("compare.py").run())
    return next(i for i in infos(at) if "You have not trained anything in this session yet" in i)


def test_the_mlp_pages_shipped_default_is_opened_not_trained_and_not_in_my_runs():
    at = open_page("stages/mlp.py")
    assert runs_table(at)[COLUMN].tolist() == [OPENED_SHIPPED]
    notice = next(i for i in infos(at) if OPENED in i)
    assert "shipped with the app" in notice and "opening is not training" in notice
    assert "change a setting and press **Train**" in notice and "not in *My runs*" in notice
    assert my_run_count(at) == 0
    assert "A model you only opened" in my_runs_message(at)  # Compare agrees: nothing of this session's
    assert not shared.job_board().trainings_started


def test_a_batchnorm_preset_that_ships_is_opened_not_trained():
    at = open_page("stages/batchnorm.py")
    next(b for b in at.button if b.label.endswith("Deep + BatchNorm")).click().run()  # preset 8
    check(at)
    table = runs_table(at)
    assert table["run"].tolist()[-1].endswith(". Deep + BatchNorm")
    assert set(table[COLUMN]) == {OPENED_SHIPPED}
    assert any(OPENED in i for i in infos(at))
    assert not shared.job_board().trainings_started
    assert my_run_count(at) == 0
    assert "A model you only opened" in my_runs_message(at)


def finish_trainings() -> None:
    board = shared.job_board()
    deadline = time.monotonic() + 180
    for job in list(board._jobs.values()):
        while not job.wait(0.5):
            job.seen()
            assert time.monotonic() < deadline, "the training did not finish"


def test_on_the_batchnorm_page_a_setting_of_ones_own_is_yours_and_a_shipped_preset_beside_it_is_not():
    at = open_page("stages/batchnorm.py", {"bn_steps": "500", "bn_hidden": "64"})  # no preset, not shipped
    at.button(key="bn_train").click().run()
    finish_trainings()
    check(at.run())
    table = runs_table(at)
    assert table["run"].tolist() == ["1. your settings"] and table[COLUMN].tolist() == [TRAINED_BY_YOU]
    assert not any(OPENED in i for i in infos(at))
    next(b for b in at.button if b.label == "Fast recipe").click().run()  # the training the presets ship with
    next(b for b in at.button if b.label.endswith("Deep + BatchNorm")).click().run()  # preset 8: shipped
    check(at)
    table = runs_table(at)
    assert table["run"].tolist() == ["1. your settings", "2. Deep + BatchNorm"]
    assert table[COLUMN].tolist() == [TRAINED_BY_YOU, OPENED_SHIPPED]
    assert any(OPENED in i for i in infos(at))
    assert [r.model_config.n_hidden for r in at.session_state[MY_RUNS].values()] == [64]  # the trained one only
    assert shared.job_board().trainings_started == 1


def test_a_training_of_ones_own_is_trained_by_you_and_another_session_only_opens_it():
    query = {"mlp_steps": "500", "mlp_hidden": "48"}  # a setting nobody shipped: trained now, in seconds
    ada = open_page("stages/mlp.py", query)
    ada.button(key="mlp_train").click().run()
    board = shared.job_board()
    finish_trainings()
    check(ada.run())
    assert board.trainings_started == 1
    assert runs_table(ada)[COLUMN].tolist() == [TRAINED_BY_YOU]
    assert not any(OPENED in i for i in infos(ada))
    assert [r.model_name for r in ada.session_state[MY_RUNS].values()] == ["mlp"]

    bob = open_page("stages/mlp.py", query)  # another browser: the same settings, found in memory
    assert runs_table(bob)[COLUMN].tolist() == [OPENED_EARLIER]
    assert any(OPENED in i and "trained earlier on this server" in i for i in infos(bob))
    assert "A model you only opened" in my_runs_message(bob)
    assert board.trainings_started == 1


def test_the_bigram_pages_shipped_network_is_opened_and_a_seed_of_ones_own_is_trained():
    at = open_page("stages/bigram.py")
    notice = next(i for i in infos(at) if OPENED in i)
    assert "shipped with the app" in notice and "change a setting of the network above" in notice
    assert my_run_count(at) == 0
    at.number_input(key="bigram_seed").set_value(7).run()  # trains at once, in the script run
    assert not any(OPENED in i for i in infos(check(at)))
    assert [r.model_name for r in at.session_state[MY_RUNS].values()] == ["bigram-nn"]


def test_in_a_class_room_an_opened_model_is_said_not_to_be_posted(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'rooms.sqlite'}"
    monkeypatch.setenv("MAKEMORE_DB_URL", url)
    store = RoomStore(url)
    try:
        room = store.create_room("Lecture 2", *room_list(WordDataset.from_file(ROOT / "data" / "names.txt")))
        at = open_page("class_room.py", {"room": room.code})
        at.text_input(key="join_nickname").set_value("ada")
        next(b for b in at.button if b.label == "Join").click().run()
        assert "room_seat" in check(at).session_state
        check(at.switch_page("stages/wavenet.py").run())
        notice = next(i for i in infos(at) if OPENED in i)
        assert "not posted to the room's board" in notice and "change a setting and press **Train**" in notice
        assert runs_table(at)[COLUMN].tolist() == [OPENED_SHIPPED]
        assert store.board(room.code).runs == []
        assert "Only your own runs are posted to the room's board." in my_runs_message(at)
    finally:
        store.close()
