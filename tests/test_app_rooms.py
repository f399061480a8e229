"""The Class room page and the room parts of every page, under AppTest, on SQLite and on PostgreSQL
(room_db_url): opening a room, joining it by link or code, posting the server's own results of a
training, coming back with the return key, the teacher's controls behind the teacher key, and
hostile input. The cookie that brings a student back in the same browser is tested in Chromium
(tests/test_browser.py): AppTest cannot send one."""

import json
import sys
import threading
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from makemore.data import WordDataset
from makemore.rooms import RoomStore
from makemore.rooms.store import NO_SUCH_ROOM
from makemore.rooms.words import room_list

from conftest import TINY_WORDS

APP = Path(__file__).resolve().parent.parent / "app"
HOME = str(APP / "Home.py")
sys.path.insert(0, str(APP))
from training import shared  # the app's module: the same job board the pages use in this process

CLASS_ROOM = "class_room.py"
BIGRAM = "stages/bigram.py"


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


def tiny_room(store, title="Tiny words", words=TINY_WORDS):
    """A room on a short list of its own, so that a training on it takes a moment."""
    return store.create_room(title, *room_list(WordDataset("tiny.txt", list(words))))


def app(query: dict | None = None, page: str | None = CLASS_ROOM, url: str | None = None) -> AppTest:
    """The app (on the Class room page); url: the address the browser shows (st.context.url)."""
    at = AppTest.from_file(HOME, default_timeout=60)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    if url is not None:
        at.context = {"url": url}
    at.run()
    if page and not query:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at, label):
    return next(b for b in at.button if b.label == label)


def open_tab(at, label: str) -> AppTest:
    """Open one tab of the teacher's controls (only the open one runs), as a click on it does."""
    at.session_state["teacher_tab"] = label
    return at.run()


def texts(at) -> list[str]:
    return [t.value for t in at.text]


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def join(at, code, nickname) -> AppTest:
    at.text_input(key="join_code").set_value(code)
    at.text_input(key="join_nickname").set_value(nickname)
    button(at, "Join").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def student(code, nickname) -> AppTest:
    """A student who opened the join link and picked a nickname."""
    at = app({"room": code})
    at.text_input(key="join_nickname").set_value(nickname)
    button(at, "Join").click().run()
    assert not errors(at), errors(at)
    return at


def train_bigram(at, seed: int | None = None) -> AppTest:
    """Open the bigram page (it trains its network at once), with another seed if given: a run of its own."""
    at.switch_page(BIGRAM).run()
    if seed is not None:
        at.number_input(key="bigram_seed").set_value(seed).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def board_runs(at):
    """The rows of the board's newest-runs table (the first with a run's columns), None when it has none."""
    at.switch_page(CLASS_ROOM).run()
    tables = [d.value for d in at.dataframe if {"posted", "nickname", "settings"} <= set(d.value.columns)]
    return tables[0] if tables else None


def my_results(at):
    return [run.result for run in at.session_state["my_runs"].values()]


def test_a_join_link_brings_a_student_to_the_class_room_with_the_code_filled_in(store):
    opened = tiny_room(store)
    at = app({"room": opened.code.lower()})  # as a phone's keyboard may type it
    assert at.text_input(key="join_code").value == opened.code
    at.text_input(key="join_nickname").set_value("ada")
    button(at, "Join").click().run()
    assert next(s.value for s in at.success).startswith("Welcome, ada.")
    assert "You are ada" in texts(at)
    assert any(opened.code[:4] in t for t in texts(at))  # the sidebar's room line, on every page
    at.switch_page("landing.py").run()
    assert "You are ada" in texts(at)
    button(at, "Leave").click().run()
    assert "You are ada" not in texts(at) and "room_seat" not in at.session_state


def test_two_students_in_a_room_see_each_others_runs_with_the_servers_numbers_and_another_room_sees_none(store):
    opened, other = tiny_room(store), tiny_room(store, "Another class")
    ada, bob = student(opened.code, "ada"), student(opened.code, "bob")
    train_bigram(ada)
    train_bigram(bob, seed=7)  # ada's run is in memory: bob only looks at it; a seed of his own is his run
    stranger = student(other.code, "cy")

    rows = board_runs(ada)
    assert sorted(rows["nickname"]) == ["ada", "bob"]
    posted = {r.nickname: r for r in store.board(opened.code).runs}
    assert posted["ada"].val_loss == my_results(ada)[0].val_loss  # the server's TrainResult, as trained
    assert posted["bob"].params == my_results(bob)[-1].params and posted["bob"].stage == "bigram"
    assert posted["bob"].settings["training"]["seed"] == 7 and posted["bob"].link.startswith("stages/bigram.py")
    scatter = [json.loads(c.proto.spec) for c in ada.get("vega_lite_chart")]
    assert any(s.get("title") == "Every run in the room: val loss against parameters" for s in scatter)
    assert board_runs(stranger) is None and store.board(other.code).runs == []


def test_a_returning_student_with_the_return_key_keeps_the_nickname_and_the_runs(store):
    opened = tiny_room(store)
    ada = train_bigram(student(opened.code, "ada"))
    token = ada.session_state["room_seat"].token
    again = app()  # another device: no cookie, no session
    again.text_input(key="back_code").set_value(opened.code)
    again.text_input(key="back_key").set_value(token)
    button(again, "Come back").click().run()
    assert "You are ada" in texts(again)
    assert list(board_runs(again)["nickname"]) == ["ada"]
    mine = [d.value for d in again.dataframe if "settings" in d.value.columns]
    assert len(mine) >= 2 and len(mine[-1]) == 1  # "Your runs" holds ada's run
    # a nickname alone gets nothing: somebody else typing "ada" is told to pick another
    join(app(), opened.code, "Ada")
    assert store.board(opened.code).members[0].nickname == "ada" and len(store.board(opened.code).members) == 1


def test_unticking_share_posts_nothing(store):
    opened = tiny_room(store)
    ada = student(opened.code, "ada")
    ada.checkbox(key="room_share").uncheck().run()
    train_bigram(ada)
    assert len(my_results(ada)) == 1 and store.board(opened.code).runs == []


def test_a_run_on_other_words_than_the_rooms_is_not_posted(store):
    # a room on a list this server no longer has (its data/ changed): the pages train on the picker's list
    # meanwhile, and those runs stay off the board
    opened = store.create_room("Old list", "gone.txt", "0" * 16, None)
    ada = student(opened.code, "ada")
    assert any("does not have" in w.value for w in ada.warning)
    ada.query_params["bigram_steps"] = "10"  # the lectures' names, in a few steps
    train_bigram(ada)
    assert len(my_results(ada)) == 1 and store.board(opened.code).runs == []


def test_a_wrong_or_closed_code_is_refused_in_words(store):
    at = join(app(), "QQQQ-QQQQ", "ada")
    assert errors(at) == [NO_SUCH_ROOM]
    at = join(app({"room": "NOTAROOM"}), "NOTAROOM", "ada")
    assert errors(at) == [NO_SUCH_ROOM] and "room_seat" not in at.session_state
    opened = tiny_room(store)
    store.set_closed(opened.code, opened.teacher_key, True)
    assert "closed" in errors(join(app(), opened.code, "ada"))[0]


HOSTILE = {
    "<script>alert(1)</script>": "may hold",
    "**bold** [link](http://x)": "may hold",
    "ada\u202eevil": "U+202E",
    "a\x00b": "U+0000",
    "     ": "at least one",
    "'; DROP TABLE members; --": "may hold",
}


def test_hostile_nicknames_are_refused_with_a_message_and_an_odd_one_is_shown_as_plain_text(store):
    opened = tiny_room(store)
    at = app()
    for nickname, said in HOSTILE.items():
        join(at, opened.code, nickname)
        assert len(errors(at)) == 1 and said in errors(at)[0].replace("\\", ""), (nickname, errors(at))
    assert store.board(opened.code).members == []
    join(at, opened.code, "_Robert'--")  # Markdown would read _ as emphasis: text elements show it as typed
    assert "You are _Robert'--" in texts(at)
    assert all("_Robert'--" not in m.value for m in at.markdown)
    # the field takes four times a nickname's length, as a browser's does: a longer one is refused in words
    assert errors(join(app(), opened.code, "y" * 10_000)) == ["A nickname is at most 24 characters (this one has 96)."]


def test_a_teacher_opens_a_room_with_its_code_link_qr_and_a_teacher_link_shown_once():
    at = app()
    at.text_input(key="open_title").set_value("<b>Lecture</b>")
    button(at, "Open a room").click().run()
    assert "may hold" in errors(at)[0]
    at.text_input(key="open_title").set_value("Lecture 2, Tuesday")
    button(at, "Open a room").click().run()
    teacher = at.session_state["room_teaching"]
    codes = [c.value for c in at.code]
    assert f"http://localhost:8501/?room={teacher.code}" in codes  # the join link (MAKEMORE_APP_URL unset)
    assert any(f"teacher={teacher.key}" in c for c in codes)
    assert [i.captions for i in at.get("image")] == [["Scan to join"]]  # the QR code of the join link
    assert any("shown only now" in w.value for w in at.warning)
    assert "teacher" not in at.query_params
    button(at, "I have kept it safe").click().run()
    assert not any(teacher.key in c.value for c in at.code)
    assert not at.get("download_button")  # only the open tab of the controls runs: "Training now"
    assert open_tab(at, "Runs").get("download_button")  # every run as CSV
    # the room is on the lectures' list (the sidebar's default): their exercises can be switched on
    open_tab(at, "Challenges")
    at.multiselect(key="teacher_lecture_challenges").select("mlp").run()
    button(at, "Switch on").click().run()
    assert not errors(at), errors(at)
    challenges = next(d.value for d in at.dataframe if "first met by" in d.value.columns)
    assert len(challenges) == 1 and challenges["first met by"][0] == "—"


def test_teacher_controls_need_the_key_and_the_key_leaves_the_address(store):
    opened = tiny_room(store)
    ada = student(opened.code, "ada")
    assert not any(b.label in ("Close the room", "Remove this run") for b in ada.button)
    assert "Your controls" not in [h.value for h in ada.subheader]

    wrong = app({"room": opened.code, "teacher": "NOTTHEKEY"})
    assert errors(wrong) == ["That teacher key does not open this room."]
    assert "teacher" not in wrong.query_params and "room_teaching" not in wrong.session_state

    right = app({"room": opened.code, "teacher": opened.teacher_key})
    assert "teacher" not in right.query_params and right.query_params["room"] == opened.code
    assert "Your controls" in [h.value for h in right.subheader]
    assert not any(opened.teacher_key in c.value for c in right.code)  # not shown again from a link
    open_tab(right, "The room")
    button(right, "Close the room").click().run()
    assert store.room(opened.code).closed


def test_a_met_challenge_names_who_met_it_first_and_the_teacher_can_remove_runs_and_members(store):
    opened = tiny_room(store)
    teacher = open_tab(app({"room": opened.code, "teacher": opened.teacher_key}), "Challenges")
    teacher.text_input(key="challenge_title").set_value("Beat a uniform guess")
    teacher.number_input(key="challenge_target").set_value(3.2)
    teacher.selectbox(key="challenge_stage").set_value("bigram")
    button(teacher, "Add the challenge").click().run()
    assert not errors(teacher), errors(teacher)

    train_bigram(student(opened.code, "ada"))
    teacher.run()
    challenges = next(d.value for d in teacher.dataframe if "first met by" in d.value.columns)
    assert challenges["first met by"][0] == "ada"
    assert "ada" in store.export_csv(opened.code)

    button(open_tab(teacher, "Runs"), "Remove this run").click().run()
    assert store.board(opened.code).runs == []
    button(open_tab(teacher, "Members"), "Remove from the room").click().run()
    assert store.board(opened.code).members == []


def test_the_teacher_sees_what_the_class_is_training_now(store):
    opened = tiny_room(store)
    teacher = app({"room": opened.code, "teacher": opened.teacher_key})
    ada = student(opened.code, "ada")
    ada.switch_page("stages/mlp.py").run()
    ada.select_slider(key="mlp_steps").set_value(200_000).run()  # long enough to be seen training
    ada.button(key="mlp_train").click().run()
    job = next(j for j in shared.job_board()._jobs.values() if j.active)
    try:
        teacher.run()
        now = next(d.value for d in teacher.dataframe if "now" in d.value.columns)
        assert list(now["nickname"]) == ["ada"] and list(now["model"]) == ["mlp"]
        assert now["now"][0].startswith(("training", "waiting"))
    finally:
        job.stop()
        assert job.wait(60)
    teacher.run()
    assert not [d.value for d in teacher.dataframe if "now" in d.value.columns]


def test_the_teacher_sees_a_bigram_network_training_within_its_page(store, monkeypatch):
    """The bigram network trains within the student's own page run, not on the job board: it is
    listed too. The student's run is held at its third step (a gate around the real training) while
    the teacher looks."""
    opened = tiny_room(store)
    teacher = app({"room": opened.code, "teacher": opened.teacher_key})
    ada = student(opened.code, "ada")
    reached, release = threading.Event(), threading.Event()
    real = shared.load_or_train

    def gated(dataset, run, callback=None, **kwargs):
        def held(progress):
            answer = callback(progress)  # the page's own: its bar, and the class room's note
            if progress.step == 3:
                reached.set()
                release.wait(60)
            return answer
        return real(dataset, run, callback=held if callback else None, **kwargs)

    monkeypatch.setattr(shared, "load_or_train", gated)
    training = threading.Thread(target=train_bigram, args=(ada, 5))
    training.start()
    try:
        assert reached.wait(60), "the bigram network did not start training"
        teacher.run()
        now = next(d.value for d in teacher.dataframe if "now" in d.value.columns)
        assert list(now["nickname"]) == ["ada"] and list(now["model"]) == ["bigram-nn"]
        assert now["now"][0].startswith("training within its page: step 3 of")
    finally:
        release.set()
        training.join(120)
    teacher.run()
    assert not [d.value for d in teacher.dataframe if "now" in d.value.columns]


def test_the_store_comes_from_the_apps_secrets_when_no_url_is_set(monkeypatch, room_db_url, store):
    """Community Cloud's way: [connections.classroom] url in the app's secrets names the database."""
    monkeypatch.delenv("MAKEMORE_DB_URL")
    new = tiny_room(store, title="From the secrets")
    at = AppTest.from_file(HOME, default_timeout=60)
    at.secrets["connections"] = {"classroom": {"url": room_db_url}}
    at.query_params["room"] = new.code
    at.run()
    assert at.text_input(key="join_code").value == new.code
    join(at, new.code, "ada")  # found: the room is only in the secrets' database, not in the default one
    assert next(s.value for s in at.success).startswith("Welcome, ada.")


# --- issue 34: a class room a teacher can trust ------------------------------------------------------

def infos(at) -> list[str]:
    return [i.value for i in at.info]


def teacher_of(opened, url: str | None = None) -> AppTest:
    at = app({"room": opened.code, "teacher": opened.teacher_key}, url=url)
    assert not errors(at), errors(at)
    return at


def html_bodies(at) -> list[str]:
    return [h.proto.body for h in at.get("html")]


def posted_run(store, opened, nickname: str, val_loss: float, params: int, stage: str = "mlp", **extra) -> None:
    """A finished run posted the way the pages post it (the store checks its steps against its settings)."""
    from makemore.rooms import PostedRun

    member = store.join(opened.code, nickname)
    settings = {"model": stage, "config": {"n_hidden": params // 100},
                "training": {"max_steps": 1000, "lr": 0.1, "seed": 42}}
    store.post_run(opened.code, member.token, PostedRun(
        stage=stage, model=stage, run_key=f"{nickname}-{params}", settings=settings,
        fingerprint=opened.room.fingerprint, val_loss=val_loss, params=params, seconds=3.0,
        link=f"stages/{stage}.py?{stage}_hidden={params // 100}", steps=1000, **extra))
    return member


def test_a_stopped_training_is_not_posted_and_its_page_says_so_while_it_is_shown(store):
    opened = tiny_room(store)
    ada = student(opened.code, "ada")
    ada.switch_page("stages/mlp.py").run()
    ada.select_slider(key="mlp_steps").set_value(200_000).run()
    ada.button(key="mlp_train").click().run()
    job = next(j for j in shared.job_board()._jobs.values() if j.active)
    deadline = time.monotonic() + 60
    while job.snapshot().step < 2:  # some steps trained: a model to show, not a training stopped before it began
        assert time.monotonic() < deadline, "the training did not start"
        time.sleep(0.1)
    job.stop()
    assert job.wait(60)
    said = "Stopped trainings are not posted to the class room's board: train the full run to post it."
    for _ in range(2):  # where the result is shown, on every run of the page, not a toast that goes
        ada.run()
        assert not ada.exception, [e.value for e in ada.exception]
        assert any(w.value.startswith("Stopped at step") for w in ada.warning)
        assert said in infos(ada)
    assert my_results(ada)[0].stopped_early and store.board(opened.code).runs == []
    assert store.my_runs(opened.code, ada.session_state["room_seat"].token) == []


def test_a_finished_training_is_posted_with_its_steps_and_first_loss(store):
    opened = tiny_room(store)
    ada = train_bigram(student(opened.code, "ada"))
    result = my_results(ada)[0]
    run = store.board(opened.code).runs[0]
    assert run.first_loss == pytest.approx(result.loss_history[0])
    assert run.settings["training"]["max_steps"] == result.steps
    assert not [i for i in infos(ada) if "not posted" in i]


def test_the_teacher_is_told_when_students_cannot_open_the_join_link(store, monkeypatch):
    opened = tiny_room(store)
    local = teacher_of(opened, url="http://localhost:8611/class_room")
    warning = next(w.value for w in local.warning if "Students cannot open this link" in w.value)
    assert "localhost" in warning and "--server.address 0.0.0.0" in warning and "MAKEMORE_APP_URL" in warning
    assert f"http://localhost:8611/?room={opened.code}" in [c.value for c in local.code]
    named = teacher_of(opened, url="http://raspberrypi:8501/class_room")
    assert any("Students cannot open this link" in w.value for w in named.warning)

    network = teacher_of(opened, url="http://10.0.0.5:8501/class_room")
    assert not any("Students cannot open" in w.value for w in network.warning)
    assert f"http://10.0.0.5:8501/?room={opened.code}" in [c.value for c in network.code]
    # the CSV's links are full addresses on the address the students open
    posted_run(store, opened, "ada", 2.2, 5_000)
    exported = []
    real = RoomStore.export_csv
    monkeypatch.setattr(RoomStore, "export_csv", lambda self, *a: exported.append(real(self, *a)) or exported[-1])
    open_tab(network, "Runs")
    assert network.get("download_button") and "http://10.0.0.5:8501/mlp?mlp_hidden=50" in exported[-1]

    monkeypatch.setenv("MAKEMORE_APP_URL", "http://localhost:8611")  # the other way to set it: also local
    assert any("Students cannot open this link" in w.value for w in teacher_of(opened).warning)


def test_the_projector_view_shows_every_leaderboard_and_the_challenges_as_tables_without_the_sidebar(store):
    opened = tiny_room(store)
    posted_run(store, opened, "ada", 2.2147, 5_000)
    posted_run(store, opened, "bo'b", 2.1057, 12_000)
    posted_run(store, opened, "cy", 2.0501, 30_000, stage="wavenet")
    store.add_challenge(opened.code, opened.teacher_key, "Under 2.15", 2.15, stage="mlp")
    teacher = teacher_of(opened)
    assert "Your controls" in [h.value for h in teacher.subheader] and teacher.dataframe
    teacher.toggle(key="teacher_projector").set_value(True).run()
    assert not teacher.exception and "Your controls" not in [h.value for h in teacher.subheader]
    assert not teacher.dataframe  # a canvas that clips columns: none on the projector
    bodies = html_bodies(teacher)
    assert any('[data-testid="stSidebar"]' in b and "display: none" in b for b in bodies)  # no sidebar
    tables = [b for b in bodies if "<table" in b]
    assert len(tables) == 3  # MLP's and WaveNet's leaderboards, the challenges
    assert "bo&#x27;b" in tables[0] and "bo'b" not in tables[0]  # a nickname is escaped text, never HTML
    assert tables[0].index("bo&#x27;b") < tables[0].index("ada") and "2.1057" in tables[0]
    assert "Under 2.15" in tables[2] and "bo&#x27;b" in tables[2]  # who met it first
    spec = next(json.loads(c.proto.spec) for c in teacher.get("vega_lite_chart"))
    labelled = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert labelled and labelled[0]["encoding"]["text"]["field"] == "nickname"  # the top runs carry their names
    x_domain = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]
    y_domain = spec["layer"][0]["encoding"]["y"]["scale"]["domain"]
    assert x_domain[0] < 5_000 and x_domain[1] > 30_000 and y_domain[0] < 2.0501 and y_domain[1] > 2.2147
    teacher.toggle(key="teacher_projector").set_value(False).run()
    assert not any('[data-testid="stSidebar"]' in b for b in html_bodies(teacher))


def test_stages_are_named_by_their_titles_and_targets_keep_their_digits(store):
    opened = tiny_room(store)
    posted_run(store, opened, "ada", 2.2, 5_000)
    teacher = open_tab(teacher_of(opened), "Challenges")
    stage = teacher.selectbox(key="challenge_stage")
    assert "backprop" not in stage.options and "Backprop" not in stage.options and "MLP" in stage.options
    teacher.text_input(key="challenge_title").set_value("Close to the lecture")
    teacher.number_input(key="challenge_target").set_value(2.1057)
    stage.set_value("mlp")
    button(teacher, "Add the challenge").click().run()
    challenges = next(d.value for d in teacher.dataframe if "first met by" in d.value.columns)
    assert list(challenges["target"]) == ["val under 2.1057"] and list(challenges["rules"]) == ["MLP"]
    spec = next(json.loads(c.proto.spec) for c in teacher.get("vega_lite_chart"))
    legend = spec["layer"][0]["encoding"]["color"]["scale"]["domain"]
    assert "MLP" in legend and "Backprop" not in legend and "mlp" not in legend
    members = next(d.value for d in open_tab(teacher, "Members").dataframe if "nickname" in d.value.columns)
    assert "MLP" in members.columns and "mlp" not in members.columns
    runs = open_tab(teacher, "Runs")
    assert "**MLP** · 1 run" in [m.value for m in runs.markdown]  # not "1 runs"
    assert set(next(d.value for d in runs.dataframe if "stage" in d.value.columns)["stage"]) == {"MLP"}


def test_a_closed_room_says_so_where_the_student_trains_and_takes_the_invitation_down(store):
    opened = tiny_room(store)
    ada = student(opened.code, "ada")
    assert any("each training you finish goes on this board" in m.value for m in ada.markdown)
    store.set_closed(opened.code, opened.teacher_key, True)
    train_bigram(ada)
    assert "Not posted to the class room's board: the room is closed (its teacher has ended it)." in infos(ada)
    assert store.board(opened.code).runs == []
    share = next(c for c in ada.checkbox if c.label.startswith("Share my runs"))
    assert share.disabled and not share.value and "the room is closed" in share.label
    ada.switch_page(CLASS_ROOM).run()
    assert not any("each training you finish goes on this board" in m.value for m in ada.markdown)
    assert any("This room is closed" in m.value for m in ada.markdown)

    teacher = teacher_of(opened)
    assert not teacher.get("image") and not any(f"?room={opened.code}" in c.value for c in teacher.code)
    assert any("join link and QR code are down" in i for i in infos(teacher))
    store.set_closed(opened.code, opened.teacher_key, False)  # reopened: the invitation and sharing are back
    assert [i.captions for i in teacher_of(opened).get("image")] == [["Scan to join"]]
    ada.run()
    assert next(c for c in ada.checkbox if c.label.startswith("Share my runs")).value


def test_removing_a_run_or_a_member_is_undone_and_the_student_sees_their_removed_run(store):
    opened = tiny_room(store)
    ada = train_bigram(student(opened.code, "ada"))
    teacher = open_tab(teacher_of(opened), "Runs")
    button(teacher, "Remove this run").click().run()
    assert store.board(opened.code).runs == []
    assert any(t.startswith("The run ada · Bigram") for t in [t.value for t in teacher.toast])
    ada.switch_page(CLASS_ROOM).run()  # the student's own runs: the removed one is marked so
    mine = next(d.value for d in ada.dataframe if "board" in d.value.columns)
    assert list(mine["board"]) == ["removed by the teacher"]
    button(teacher, "Undo").click().run()
    assert len(store.board(opened.code).runs) == 1 and not [b for b in teacher.button if b.label == "Undo"]
    ada.run()
    assert list(next(d.value for d in ada.dataframe if "board" in d.value.columns)["board"]) == ["on the board"]

    button(teacher, "Remove this run").click().run()
    teacher = open_tab(teacher, "Members")
    button(teacher, "Remove from the room").click().run()
    assert store.board(opened.code).members == []
    assert store.member(opened.code, ada.session_state["room_seat"].token) is None  # the key stops working
    button(teacher, "Undo").click().run()  # the member is back, with their key and their runs
    assert [m.nickname for m in store.board(opened.code).members] == ["ada"]
    teacher = open_tab(teacher, "Runs")  # the run removed before: listed, with Restore
    restore = next(b for b in teacher.button if b.label == "Restore")
    assert any(t.value.startswith("ada · Bigram") for t in teacher.text)
    restore.click().run()
    assert len(store.board(opened.code).runs) == 1 and not [b for b in teacher.button if b.label == "Restore"]


def test_a_teachers_notice_shows_once_and_a_long_nickname_is_refused_not_cut(store):
    opened = tiny_room(store)
    teacher = open_tab(teacher_of(opened), "Challenges")
    teacher.text_input(key="challenge_title").set_value("Under 2.3")
    button(teacher, "Add the challenge").click().run()
    assert [t.value for t in teacher.toast] == ["The challenge is on the board."]
    assert not teacher.success  # not a message that stays on the page for the lesson
    teacher.run()
    assert not teacher.toast
    at = join(app(), opened.code, "a" * 30)  # pasted: the box takes it, the store says why not
    assert errors(at) == ["A nickname is at most 24 characters (this one has 30)."]
    assert at.text_input(key="join_nickname").value == "a" * 30
