"""The class-room store (makemore/rooms) against a real SQLite file and a real PostgreSQL server:
rooms, joining, returning, posting, the board, challenges, the teacher's actions, hostile input,
bounds, restarts and the schema's upgrade."""

from __future__ import annotations

import csv
import io
import threading
import time

import pytest
import sqlalchemy as sa

from makemore import limits
from makemore.rooms import PostedRun, RoomError, RoomStore
from makemore.rooms import store as store_module
from makemore.rooms.challenges import LECTURE, lecture_fingerprint
from makemore.rooms.text import CODE_ALPHABET, CODE_LENGTH, shown_code

WORDS = "fingerprint-of-the-rooms-words"


def posted(stage="mlp", model="mlp", key="k1", val_loss=2.2, params=11_897, seconds=12.0, fingerprint=WORDS):
    return PostedRun(stage, model, key, {"model": model, "config": {}, "training": {}}, fingerprint,
                     val_loss, params, seconds, f"stages/{stage}.py?seed={key}")


@pytest.fixture
def store(room_db_url):
    s = RoomStore(room_db_url)
    yield s
    s.close()


@pytest.fixture
def room(store):
    return store.create_room("Lecture 2, Tuesday", "names", WORDS)


def test_a_new_room_has_an_unguessable_code_without_look_alikes_and_a_separate_teacher_key(store, room):
    assert len(room.code) == CODE_LENGTH and set(room.code) <= set(CODE_ALPHABET)
    assert not set("0O1IL5S2Z8B") & set(CODE_ALPHABET)
    assert room.teacher_key != room.code and len(room.teacher_key) >= 16
    assert store.room(room.code).title == "Lecture 2, Tuesday"
    # typed by a student: lower case, with the dash the projector shows
    assert store.room(shown_code(room.code).lower()).code == room.code
    codes = {store.create_room(f"room {i}", "names", WORDS).code for i in range(20)}
    assert len(codes) == 20


def test_the_store_keeps_only_hashes_of_keys(store, room):
    me = store.join(room.code, "ada")
    with store.engine.connect() as conn:
        dumped = repr(conn.execute(sa.select(store_module.rooms)).all() + conn.execute(
            sa.select(store_module.members)).all())
    assert room.teacher_key not in dumped and me.token not in dumped


def test_a_wrong_code_or_an_expired_room_is_no_such_room(room_db_url, store, room):
    assert store.room("ACDEFGHJ") is None
    with pytest.raises(RoomError, match="^No such room.$"):
        store.join("ACDEFGHJ", "ada")
    with pytest.raises(RoomError, match="^No such room.$"):
        store.board("x" * 10_000)
    later = RoomStore(room_db_url, clock=lambda: room.room.created_at + limits.ROOM_DAYS * 86400 + 1)
    assert later.room(room.code) is None
    with pytest.raises(RoomError, match="^No such room.$"):
        later.join(room.code, "ada")
    later.close()


def test_two_students_see_each_others_runs_and_another_room_sees_none(store, room):
    ada, bob = store.join(room.code, "ada"), store.join(room.code, "bob")
    other = store.create_room("Another class", "names", WORDS)
    eve = store.join(other.code, "eve")
    assert store.post_run(room.code, ada.token, posted(key="a", val_loss=2.20))
    assert store.post_run(room.code, bob.token, posted(key="b", val_loss=2.15))
    assert store.post_run(other.code, eve.token, posted(key="e", val_loss=2.00))
    board = store.board(room.code)
    assert [r.nickname for r in board.runs] == ["bob", "ada"]  # newest first
    assert [r.nickname for r in board.leaderboards["mlp"]] == ["bob", "ada"]
    assert [m.nickname for m in board.members] == ["ada", "bob"] and [m.runs for m in board.members] == [1, 1]
    assert [r.nickname for r in store.board(other.code).runs] == ["eve"]


def test_a_returning_student_keeps_their_nickname_and_runs_and_nobody_else_can_post_as_them(store, room):
    ada = store.join(room.code, "Ada")
    store.post_run(room.code, ada.token, posted(key="a"))
    back = store.member(room.code, ada.token)
    assert back.nickname == "Ada" and back.id == ada.id
    assert store.member(room.code, shown_code(ada.token).lower()).id == ada.id  # typed back in
    assert [r.nickname for r in store.my_runs(room.code, ada.token)] == ["Ada"]
    with pytest.raises(RoomError, match="already called"):
        store.join(room.code, "ada ")  # the same nickname, however it is cased or spaced
    for wrong in ("", "A" * 16, ada.token[:-1], None, 42, "x" * 10_000):
        assert store.member(room.code, wrong) is None
        with pytest.raises(RoomError, match="not a member"):
            store.post_run(room.code, wrong, posted(key="forged"))
    other = store.create_room("Another class", "names", WORDS)
    assert store.member(other.code, ada.token) is None  # a key opens only its own room
    with pytest.raises(RoomError, match="not a member"):
        store.post_run(other.code, ada.token, posted(key="elsewhere"))


def test_the_same_run_is_posted_once_and_a_run_on_other_words_is_not_posted(store, room):
    ada = store.join(room.code, "ada")
    assert store.post_run(room.code, ada.token, posted(key="a")) is True
    assert store.post_run(room.code, ada.token, posted(key="a")) is False
    with pytest.raises(RoomError, match="other words"):
        store.post_run(room.code, ada.token, posted(key="b", fingerprint="another list"))
    with pytest.raises(RoomError, match="finite"):
        store.post_run(room.code, ada.token, posted(key="c", val_loss=float("nan")))
    assert len(store.board(room.code).runs) == 1


def test_leaderboard_keeps_each_students_best_per_stage_ties_to_fewer_parameters(store, room):
    ada, bob = store.join(room.code, "ada"), store.join(room.code, "bob")
    store.post_run(room.code, ada.token, posted(key="a1", val_loss=2.30))
    store.post_run(room.code, ada.token, posted(key="a2", val_loss=2.10, params=50_000))
    store.post_run(room.code, bob.token, posted(key="b1", val_loss=2.10, params=12_000))
    store.post_run(room.code, bob.token, posted(stage="wavenet", model="wavenet", key="b2", val_loss=2.0))
    board = store.board(room.code)
    assert [(r.nickname, r.params) for r in board.leaderboards["mlp"]] == [("bob", 12_000), ("ada", 50_000)]
    assert [r.nickname for r in board.leaderboards["wavenet"]] == ["bob"]


def at_once(n: int, work) -> list[str]:
    """work(i) for i in range(n), each on its own thread, all released at the same moment; the
    errors they raised."""
    errors, start = [], threading.Barrier(n)

    def one(i):
        try:
            start.wait()
            work(i)
        except Exception as e:  # noqa: BLE001 (the test reports every failure)
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_thirty_students_posting_at_once_leave_thirty_rows(store, room):
    students = [store.join(room.code, f"student {i}") for i in range(30)]
    assert at_once(30, lambda i: store.post_run(room.code, students[i].token,
                                                posted(key=f"run{i}", val_loss=2 + i / 100))) == []
    assert len(store.board(room.code).runs) == 30
    assert len(store.board(room.code).leaderboards["mlp"]) == 30


def test_thirty_students_joining_at_once_each_get_in(store, room):
    assert at_once(30, lambda i: store.join(room.code, f"s{i}")) == []
    assert len(store.board(room.code).members) == 30


HOSTILE = {
    "<script>x</script>": "may hold",
    "<b>bold</b>": "may hold",
    "**bold** [link](http://x)": "may hold",
    "x" * 10_000: "at most 24",
    "ab\x00cd": "may hold",
    "ab\x1b[31m": "may hold",
    "evil\u202egnp.exe": "U\\+202E",
    "zero\u200bwidth": "U\\+200B",
    "    ": "at least one",
    "": "at least one",
    "Robert'); DROP TABLE members;--": "may hold",
    "' OR '1'='1": "may hold|at least one",
    "___": "at least one",
}


@pytest.mark.parametrize("nickname", list(HOSTILE), ids=range(len(HOSTILE)))
def test_hostile_nicknames_are_refused_with_a_message(store, room, nickname):
    with pytest.raises(RoomError, match=HOSTILE[nickname]):
        store.join(room.code, nickname)
    assert store.board(room.code).members == []


def test_ordinary_nicknames_of_any_script_are_taken_as_written(store, room):
    for name in ("Zoë", "O'Brien", "李雷", "anna-lena", "J. Doe", "محمد"):
        assert store.join(room.code, name).nickname == name
    assert store.join(room.code, "  two   spaces ").nickname == "two spaces"


@pytest.mark.parametrize("title", ["<h1>x</h1>", "t" * 81, "   ", "a\u202eb", "[x](javascript:alert(1))", None])
def test_hostile_titles_are_refused(store, title):
    with pytest.raises(RoomError):
        store.create_room(title, "names", WORDS)


def test_the_teachers_actions_refuse_a_wrong_key(store, room):
    ada = store.join(room.code, "ada")
    store.post_run(room.code, ada.token, posted(key="a"))
    run_id = store.board(room.code).runs[0].id
    other = store.create_room("Another class", "names", WORDS)
    assert store.is_teacher(room.code, room.teacher_key)
    last = room.teacher_key[-1]
    one_off = room.teacher_key[:-1] + ("A" if last != "A" else "C")  # the key with its last character changed
    for wrong in ("", one_off, other.teacher_key, ada.token, None):
        assert not store.is_teacher(room.code, wrong)
        for action in (lambda k: store.set_closed(room.code, k, True), lambda k: store.remove_run(room.code, k, run_id),
                       lambda k: store.remove_member(room.code, k, ada.id),
                       lambda k: store.add_challenge(room.code, k, "mine", 2.0),
                       lambda k: store.set_words(room.code, k, "cities", "other", None)):
            with pytest.raises(RoomError, match="teacher key"):
                action(wrong)
    board = store.board(room.code)
    assert not board.room.closed and len(board.runs) == 1 and len(board.members) == 1 and board.challenges == []


def test_a_teacher_closes_the_room_and_removes_a_run_or_a_member(store, room):
    ada, bob = store.join(room.code, "ada"), store.join(room.code, "bob")
    store.post_run(room.code, ada.token, posted(key="a1"))
    store.post_run(room.code, ada.token, posted(key="a2"))
    store.post_run(room.code, bob.token, posted(key="b1"))
    ada_runs = [r.id for r in store.board(room.code).runs if r.nickname == "ada"]
    store.remove_run(room.code, room.teacher_key, ada_runs[0])
    assert [r.nickname for r in store.board(room.code).runs].count("ada") == 1
    store.remove_member(room.code, room.teacher_key, bob.id)
    board = store.board(room.code)
    assert [m.nickname for m in board.members] == ["ada"] and {r.nickname for r in board.runs} == {"ada"}
    assert store.member(room.code, bob.token) is None
    store.set_closed(room.code, room.teacher_key, True)
    with pytest.raises(RoomError, match="closed"):
        store.post_run(room.code, ada.token, posted(key="a3"))
    with pytest.raises(RoomError, match="closed"):
        store.join(room.code, "carol")
    assert store.board(room.code).room.closed  # the board stays readable


def test_challenges_mark_who_met_them_first_and_the_smallest(store, room, monkeypatch):
    now = [1000.0]
    store.clock = lambda: now[0]
    lecture_room = store.create_room("On the lectures' list", "names", lecture_fingerprint())
    code, key = lecture_room.code, lecture_room.teacher_key
    store.add_lecture_challenge(code, key, "mlp")
    store.add_lecture_challenge(code, key, "transformer-small")
    store.add_challenge(code, key, "MLP under 2.3 with at most 5,000 parameters", 2.3, stage="mlp", max_params=5000)
    with pytest.raises(RoomError, match="already on"):
        store.add_lecture_challenge(code, key, "mlp")
    ada, bob = store.join(code, "ada"), store.join(code, "bob")

    def post(who, **kw):
        now[0] += 10
        store.post_run(code, who.token, posted(fingerprint=lecture_fingerprint(), **kw))

    post(ada, key="a1", val_loss=LECTURE["mlp"].target + 0.01)  # not quite
    post(bob, key="b1", val_loss=LECTURE["mlp"].target - 0.01, params=12_000)
    post(ada, key="a2", val_loss=LECTURE["mlp"].target - 0.05, params=4_000)
    post(ada, stage="transformer", model="transformer", key="t1", val_loss=2.04, params=200_000)
    post(bob, stage="transformer", model="transformer", key="t2", val_loss=2.049, params=50_000)
    mlp, small, own = store.board(code).challenges
    assert (mlp.first.nickname, mlp.first.posted_at, mlp.best.nickname) == ("bob", 1020.0, "ada")
    assert (small.first.nickname, small.best.nickname, small.best.params) == ("ada", "bob", 50_000)
    assert own.first.nickname == "ada" and own.first.params == 4_000
    store.remove_challenge(code, key, own.id)
    assert len(store.board(code).challenges) == 2


def test_lecture_challenges_only_in_a_room_on_the_lectures_list(store, room):
    with pytest.raises(RoomError, match="lectures' list"):
        store.add_lecture_challenge(room.code, room.teacher_key, "mlp")
    with pytest.raises(RoomError, match="no lecture challenge"):
        store.add_lecture_challenge(room.code, room.teacher_key, "nope")
    with pytest.raises(RoomError, match="above 0"):
        store.add_challenge(room.code, room.teacher_key, "mine", -1)


def test_export_is_csv_of_every_run_and_quotes_formulas(store, room):
    ada = store.join(room.code, "ada")
    store.post_run(room.code, ada.token, posted(key="a", val_loss=2.1234))
    store.post_run(room.code, ada.token, posted(key="b", val_loss=2.5))
    rows = list(csv.DictReader(io.StringIO(store.export_csv(room.code))))
    assert [r["val_loss"] for r in rows] == ["2.1234", "2.5000"] and rows[0]["nickname"] == "ada"
    assert set(rows[0]) >= {"nickname", "stage", "model", "dataset", "val_loss", "params", "seconds", "link"}
    assert store_module._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"


def test_a_restarted_server_shows_every_room_as_it_was(room_db_url, store, room):
    ada = store.join(room.code, "ada")
    store.post_run(room.code, ada.token, posted(key="a"))
    store.set_closed(room.code, room.teacher_key, True)
    store.close()
    again = RoomStore(room_db_url)
    board = again.board(room.code)
    assert board.room.closed and [r.nickname for r in board.runs] == ["ada"]
    assert again.member(room.code, ada.token).nickname == "ada" and again.is_teacher(room.code, room.teacher_key)
    again.close()


def test_an_older_schema_is_upgraded_without_losing_a_room(room_db_url):
    engine = store_module._engine(room_db_url)
    with engine.begin() as conn:  # a database as version 1 of the app left it: no challenges table
        store_module.schema_version.create(conn)
        conn.execute(store_module.schema_version.insert().values(version=1))
        store_module.MIGRATIONS[1](conn)
        conn.execute(store_module.rooms.insert().values(
            code="ACDEFGHJ", title="Old room", teacher_key_hash=store_module._hash("K" * 16), created_at=9e9,
            closed=False, dataset="names", fingerprint=WORDS, words=None))
    engine.dispose()
    store = RoomStore(room_db_url, clock=lambda: 9e9)
    assert store.version() == store_module.SCHEMA_VERSION == 2
    assert store.room("ACDEFGHJ").title == "Old room"
    store.add_challenge("ACDEFGHJ", "K" * 16, "Beat 2.2", 2.2)
    assert len(store.board("ACDEFGHJ").challenges) == 1
    store.close()


def test_a_database_from_a_newer_app_is_refused_not_changed(room_db_url, store):
    with store.engine.begin() as conn:
        conn.execute(store_module.schema_version.update().values(version=99))
    with pytest.raises(RoomError, match="newer version"):
        RoomStore(room_db_url)


def test_bounds_on_rooms_members_and_runs_each_say_so(store, room, monkeypatch):
    monkeypatch.setattr(limits, "MAX_MEMBERS", 2)
    monkeypatch.setattr(limits, "MAX_RUNS_PER_MEMBER", 2)
    monkeypatch.setattr(limits, "MAX_ROOMS", 2)
    ada = store.join(room.code, "ada")
    store.join(room.code, "bob")
    with pytest.raises(RoomError, match="2 members, its most"):
        store.join(room.code, "carol")
    store.post_run(room.code, ada.token, posted(key="a"))
    store.post_run(room.code, ada.token, posted(key="b"))
    with pytest.raises(RoomError, match="2 runs to this room, its most"):
        store.post_run(room.code, ada.token, posted(key="c"))
    store.create_room("Second", "names", WORDS)
    with pytest.raises(RoomError, match="2 open rooms"):
        store.create_room("Third", "names", WORDS)
    store.set_closed(room.code, room.teacher_key, True)  # closing one frees its place
    store.create_room("Third", "names", WORDS)


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = RoomStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_the_default_database_is_a_sqlite_file_in_the_cache_folder(isolated_cache_dir, monkeypatch):
    monkeypatch.delenv("MAKEMORE_DB_URL", raising=False)
    store = RoomStore()
    assert store.url == f"sqlite:///{isolated_cache_dir / 'classroom.sqlite'}"
    store.create_room("Here", "names", WORDS)
    assert (isolated_cache_dir / "classroom.sqlite").is_file()
    store.close()
    monkeypatch.setenv("MAKEMORE_DB_URL", "sqlite:///" + str(isolated_cache_dir / "other.sqlite"))
    assert RoomStore().url.endswith("other.sqlite")


def test_many_viewers_of_a_board_share_one_read_and_a_write_here_shows_at_once(room_db_url, store, room):
    """board(max_age=) serves a read made at most that long ago (thirty open boards, one read);
    a write through the same store forgets it, another server's write shows once it has aged."""
    ada = store.join(room.code, "ada")
    first = store.board(room.code, max_age=60)
    assert store.board(shown_code(room.code).lower(), max_age=60) is first  # the same read, however typed
    store.post_run(room.code, ada.token, posted(key="a"))  # a write through this store: seen at once
    assert [r.nickname for r in store.board(room.code, max_age=60).runs] == ["ada"]
    other_server = RoomStore(room_db_url)
    try:
        other_server.post_run(room.code, other_server.join(room.code, "bob").token, posted(key="b"))
        assert len(store.board(room.code, max_age=60).runs) == 1  # this server's recent read still serves
        assert len(store.board(room.code).runs) == 2  # a plain read is always fresh
        time.sleep(0.3)
        assert len(store.board(room.code, max_age=0.2).runs) == 2  # aged past max_age: read again
    finally:
        other_server.close()
    with pytest.raises(RoomError, match="No such room"):
        store.board("ACDEFGHJ", max_age=60)
