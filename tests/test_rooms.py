"""The class-room store (makemore/rooms) against a real SQLite file and a real PostgreSQL server:
rooms, joining, returning, posting, the board, challenges, the teacher's actions, hostile input,
bounds, restarts and the schema's upgrade."""

from __future__ import annotations

import csv
import io
import threading
import time
import unicodedata

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
    # the rules here are the test's own, so that it checks the store's first/best whatever the lectures' are
    store.add_challenge(code, key, "MLP under 2.164", 2.164, stage="mlp")
    store.add_challenge(code, key, "The smallest transformer under 2.05", 2.05, model="transformer", smallest=True)
    store.add_challenge(code, key, "MLP under 2.3 with at most 5,000 parameters", 2.3, stage="mlp", max_params=5000)
    store.add_lecture_challenge(code, key, "mlp")
    with pytest.raises(RoomError, match="already on"):
        store.add_lecture_challenge(code, key, "mlp")
    ada, bob = store.join(code, "ada"), store.join(code, "bob")

    def post(who, **kw):
        now[0] += 10
        store.post_run(code, who.token, posted(fingerprint=lecture_fingerprint(), **kw))

    post(ada, key="a1", val_loss=2.164 + 0.01)  # not quite
    post(bob, key="b1", val_loss=2.164 - 0.01, params=12_000)
    post(ada, key="a2", val_loss=2.164 - 0.05, params=4_000)
    post(ada, stage="transformer", model="transformer", key="t1", val_loss=2.04, params=200_000)
    post(bob, stage="transformer", model="transformer", key="t2", val_loss=2.049, params=50_000)
    mlp, small, own, lecture = store.board(code).challenges
    assert (mlp.first.nickname, mlp.first.posted_at, mlp.best.nickname) == ("bob", 1020.0, "ada")
    assert (small.first.nickname, small.best.nickname, small.best.params) == ("ada", "bob", 50_000)
    assert own.first.nickname == "ada" and own.first.params == 4_000
    assert lecture.lecture == "mlp" and lecture.title == LECTURE["mlp"].title
    store.remove_challenge(code, key, own.id)
    assert len(store.board(code).challenges) == 3


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
        V2.tables["schema_version"].create(conn)
        conn.execute(V2.tables["schema_version"].insert().values(version=1))
        for name in ("rooms", "members", "runs"):
            V2.tables[name].create(conn)
        conn.execute(V2.tables["rooms"].insert().values(
            code="ACDEFGHJ", title="Old room", teacher_key_hash=store_module._hash("K" * 16), created_at=9e9,
            closed=False, dataset="names", fingerprint=WORDS, words=None))
    engine.dispose()
    store = RoomStore(room_db_url, clock=lambda: 9e9)
    assert store.version() == store_module.SCHEMA_VERSION == 3
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


# --- schema version 3 ---------------------------------------------------------------------------
# The tables as version 2 of the app created them, written out here (not taken from the store's
# metadata, which is version 3's), so that the upgrade is tested from what is really on disk.
V2 = sa.MetaData()
sa.Table("schema_version", V2, sa.Column("version", sa.Integer, nullable=False))
sa.Table("rooms", V2, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("code", sa.String(16), nullable=False, unique=True),
         sa.Column("title", sa.String(80), nullable=False), sa.Column("teacher_key_hash", sa.String(64), nullable=False),
         sa.Column("created_at", sa.Float, nullable=False),
         sa.Column("closed", sa.Boolean, nullable=False), sa.Column("dataset", sa.String(64), nullable=False),
         sa.Column("fingerprint", sa.String(64), nullable=False), sa.Column("words", sa.Text))
sa.Table("members", V2, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
         sa.Column("nickname", sa.String(24), nullable=False), sa.Column("nickname_key", sa.String(96), nullable=False),
         sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
         sa.Column("joined_at", sa.Float, nullable=False), sa.Column("removed", sa.Boolean, nullable=False),
         sa.UniqueConstraint("room_id", "nickname_key"))
sa.Table("runs", V2, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
         sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
         sa.Column("stage", sa.String(32), nullable=False), sa.Column("model", sa.String(32), nullable=False),
         sa.Column("run_key", sa.String(64), nullable=False), sa.Column("settings", sa.Text, nullable=False),
         sa.Column("val_loss", sa.Float, nullable=False), sa.Column("params", sa.Integer, nullable=False),
         sa.Column("seconds", sa.Float, nullable=False), sa.Column("link", sa.Text, nullable=False),
         sa.Column("posted_at", sa.Float, nullable=False), sa.Column("removed", sa.Boolean, nullable=False),
         sa.UniqueConstraint("member_id", "run_key"))
sa.Table("challenges", V2, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
         sa.Column("lecture", sa.String(32)), sa.Column("title", sa.String(120), nullable=False),
         sa.Column("stage", sa.String(32)), sa.Column("model", sa.String(32)),
         sa.Column("target", sa.Float, nullable=False), sa.Column("max_params", sa.Integer),
         sa.Column("max_seconds", sa.Float), sa.Column("smallest", sa.Boolean, nullable=False),
         sa.Column("created_at", sa.Float, nullable=False))


def test_a_version_2_database_is_upgraded_in_place_keeping_every_room_and_polls_work(room_db_url):
    engine = store_module._engine(room_db_url)
    token, teacher = "T" * 16, "K" * 16
    with engine.begin() as conn:
        V2.create_all(conn)
        conn.execute(V2.tables["schema_version"].insert().values(version=2))
        room_id = conn.execute(V2.tables["rooms"].insert().values(
            code="ACDEFGHJ", title="Last term", teacher_key_hash=store_module._hash(teacher), created_at=9e9,
            closed=False, dataset="names", fingerprint=WORDS, words=None)).inserted_primary_key[0]
        ada = conn.execute(V2.tables["members"].insert().values(
            room_id=room_id, nickname="ada", nickname_key="ada", token_hash=store_module._hash(token), joined_at=9e9,
            removed=False)).inserted_primary_key[0]
        conn.execute(V2.tables["runs"].insert().values(
            room_id=room_id, member_id=ada, stage="mlp", model="mlp", run_key="old", settings="{}", val_loss=2.15,
            params=11_897, seconds=30.0, link="stages/mlp.py?mlp_steps=200000", posted_at=9e9, removed=False))
        conn.execute(V2.tables["challenges"].insert().values(
            room_id=room_id, lecture=None, title="Beat 2.2", target=2.2, smallest=False, created_at=9e9))
    engine.dispose()

    store = RoomStore(room_db_url, clock=lambda: 9e9 + 60)
    try:
        assert store.version() == 3
        board = store.board("ACDEFGHJ")
        assert board.room.title == "Last term" and [m.nickname for m in board.members] == ["ada"]
        (run,) = board.runs
        assert (run.nickname, run.val_loss, run.first_loss, run.predicted, run.removed) == ("ada", 2.15, None, None,
                                                                                            False)
        (challenge,) = board.challenges
        assert challenge.metric == "val_loss" and challenge.first.id == run.id  # an old row keeps its meaning
        assert store.member("ACDEFGHJ", token).nickname == "ada" and store.is_teacher("ACDEFGHJ", teacher)
        poll = store.open_poll("ACDEFGHJ", teacher, "mlp", "mlp", "k", {"model": "mlp"}, "stages/mlp.py")
        store.predict("ACDEFGHJ", token, poll, 2.3)
        store.poll_result("ACDEFGHJ", teacher, poll, 2.25, 11_897)
        (done,) = store.polls("ACDEFGHJ")
        assert [p.nickname for p in done.closest] == ["ada"] and done.result == 2.25
        store.remove_run("ACDEFGHJ", teacher, run.id)
        assert store.board("ACDEFGHJ").runs == []
    finally:
        store.close()
    again = RoomStore(room_db_url)  # opened once more: already version 3, nothing to do
    assert again.version() == 3 and len(again.polls("ACDEFGHJ")) == 1
    again.close()


# --- 1. a stopped training is never on the board ----------------------------------------------------
def trained(steps, max_steps=20_000, key="s", val_loss=2.1508, **kw) -> PostedRun:
    settings = {"model": "mlp", "config": {}, "training": {"max_steps": max_steps}}
    return PostedRun("mlp", "mlp", key, settings, WORDS, val_loss, 11_897, 30.0, f"stages/mlp.py?mlp_steps={max_steps}",
                     steps=steps, **kw)


def test_a_stopped_training_is_refused_and_meets_no_challenge(store, room):
    store.add_challenge(room.code, room.teacher_key, "Beat 2.2", 2.2)
    ada = store.join(room.code, "ada")
    with pytest.raises(RoomError, match="stopped after 9,054 of its 20,000 steps"):
        store.post_run(room.code, ada.token, trained(steps=9_054))
    with pytest.raises(RoomError, match="unknown number"):  # a run that does not say how far it got
        store.post_run(room.code, ada.token, trained(steps=None, key="unsaid"))
    board = store.board(room.code)
    assert board.runs == [] and board.challenges[0].first is None
    assert store.my_runs(room.code, ada.token) == []
    assert len(store.export_csv(room.code).splitlines()) == 1  # the header alone
    assert store.post_run(room.code, ada.token, trained(steps=20_000, key="whole"))  # finished: posted
    assert store.board(room.code).challenges[0].first.nickname == "ada"


# --- 2. look-alike nicknames ------------------------------------------------------------------------
@pytest.mark.parametrize("nickname, message", [
    ("аnn", "“аnn” looks just like “ann”, who is already in this room"),  # a Cyrillic а
    ("ａｎｎ", "already called 'ann'"),  # fullwidth: NFKC makes it "ann" itself
    ("an\u200dn", "U\\+200D"),  # a zero-width joiner inside
    ("Ann", "already called 'Ann'"),
    ("ANN", "already called 'ANN'"),
    ("сор", "“сор” looks just like “cop”"),  # all Cyrillic, one script: the skeleton alone catches it
    ("jοhn", "looks just like “john”"),  # a Greek ο
    ("jοhnny", "mixes Greek and Latin letters inside one word"),  # nobody it looks like, still a mix
])
def test_a_look_alike_nickname_is_refused_naming_the_member_it_looks_like(store, room, nickname, message):
    for present in ("ann", "cop", "john"):
        store.join(room.code, present)
    with pytest.raises(RoomError, match=message):
        store.join(room.code, nickname)
    assert [m.nickname for m in store.board(room.code).members] == ["ann", "cop", "john"]


def test_ordinary_names_of_other_scripts_are_still_taken_beside_latin_ones(store, room):
    store.join(room.code, "ann")
    store.join(room.code, "anna")
    for name in ("Анна", "Zoë", "李雷", "José", "山田たろう", "김민준", "Ann Иванова"):
        assert store.join(room.code, name).nickname == name


def test_a_removed_members_look_alike_may_join_and_the_exact_nickname_stays_taken(store, room):
    cop = store.join(room.code, "cop")
    store.remove_member(room.code, room.teacher_key, cop.id)
    assert store.join(room.code, "сор").nickname == "сор"  # only present members are looked like
    with pytest.raises(RoomError, match="already called"):
        store.join(room.code, "cop")


def test_two_look_alikes_joining_at_the_same_moment_do_not_both_get_in(store):
    """The room's row is locked in join's transaction (SELECT ... FOR UPDATE on PostgreSQL): without
    it, both joins see neither and both insert, since their nicknames differ."""
    for attempt in range(6):
        room = store.create_room(f"race {attempt}", "names", WORDS)
        errors = at_once(2, lambda i: store.join(room.code, ("cop", "сор")[i]))
        assert len(errors) == 1 and "looks just like" in errors[0]
        assert len(store.board(room.code).members) == 1


def test_the_skeleton_comes_from_unicodes_confusables():
    from makemore.rooms.text import looks_like, mixed_scripts, nickname_skeleton

    assert nickname_skeleton("аnn") == nickname_skeleton("ann") == nickname_skeleton("ANN")
    assert nickname_skeleton("rn") == nickname_skeleton("m")  # a two-letter prototype
    # a Cyrillic і that NFKC leaves alone: the confusables' data, not normalisation, makes it an i
    assert unicodedata.normalize("NFKC", "і") != "i" and nickname_skeleton("і") == nickname_skeleton("i")
    assert nickname_skeleton("bob") != nickname_skeleton("rob")
    assert looks_like("сор", ["ada", "cop", "сор"]) == "cop" and looks_like("eve", ["ada", "bob"]) is None
    assert mixed_scripts("jοhn") == ["Greek", "Latin"] and mixed_scripts("Ann Иванова") is None
    assert mixed_scripts("O'Brien-Smith") is None


# --- 3. links a class can open ----------------------------------------------------------------------
def test_page_url_makes_a_posted_link_a_full_address():
    from makemore.rooms.links import page_url

    assert page_url("stages/mlp.py?a=1", "http://10.0.0.5:8501") == "http://10.0.0.5:8501/mlp?a=1"
    assert page_url("stages/wavenet.py", "https://class.example.org/") == "https://class.example.org/wavenet"
    assert page_url("compare.py?x=1&y=2", "https://host/app") == "https://host/app/compare?x=1&y=2"
    assert page_url("https://elsewhere/mlp?a=1", "http://10.0.0.5:8501") == "https://elsewhere/mlp?a=1"


@pytest.mark.parametrize("base, reachable", [
    ("http://localhost:8611", False), ("http://LOCALHOST:8501", False), ("http://127.0.0.1:8501", False),
    ("http://127.1.2.3", False), ("http://[::1]:8501", False), ("http://0.0.0.0:8501", False),
    ("http://raspberrypi:8501", False), ("http://app.localhost:8501", False), ("not a url", False),
    ("http://10.0.0.5:8501", True), ("http://192.168.1.20:8501", True), ("https://makemore.streamlit.app", True),
    ("http://class.school.example:8501", True), ("http://[2001:db8::5]:8501", True),
])
def test_local_only_says_why_students_cannot_open_an_address(base, reachable):
    from makemore.rooms.links import local_only

    reason = local_only(base)
    assert (reason is None) == reachable
    if reason is not None:
        assert reason.endswith(".") and len(reason) < 200


def test_the_csvs_link_is_a_full_address_and_it_carries_first_loss_and_predicted(store, room, monkeypatch):
    ada = store.join(room.code, "ada")
    store.post_run(room.code, ada.token, trained(steps=20_000, first_loss=3.2961, predicted=2.2))
    (row,) = csv.DictReader(io.StringIO(store.export_csv(room.code, "http://10.0.0.5:8501")))
    assert row["link"] == "http://10.0.0.5:8501/mlp?mlp_steps=20000"
    assert (row["first_loss"], row["predicted"]) == ("3.2961", "2.2000")
    monkeypatch.setenv("MAKEMORE_APP_URL", "https://class.example.org")
    (row,) = csv.DictReader(io.StringIO(store.export_csv(room.code)))
    assert row["link"] == "https://class.example.org/mlp?mlp_steps=20000"


# --- 5. first-loss challenges and the lecture's exercises ------------------------------------------
def test_a_first_loss_challenge_is_met_within_its_tolerance(store, room):
    key = room.teacher_key
    store.add_challenge(room.code, key, "Fix the initialisation", 3.2958, stage="mlp", metric="first_loss")
    with pytest.raises(RoomError, match="val_loss, first_loss"):
        store.add_challenge(room.code, key, "Odd", 2.0, metric="accuracy")
    ada, bob, eve = (store.join(room.code, n) for n in ("ada", "bob", "eve"))
    store.post_run(room.code, ada.token, trained(steps=20_000, key="a", first_loss=3.3100))  # 0.0142 off
    store.post_run(room.code, eve.token, trained(steps=20_000, key="e"))  # no first loss: cannot meet it
    (c,) = store.board(room.code).challenges
    assert c.metric == "first_loss" and c.first is None
    store.post_run(room.code, bob.token, trained(steps=20_000, key="b", first_loss=3.3050, val_loss=2.5))
    store.post_run(room.code, ada.token, trained(steps=20_000, key="a2", first_loss=3.2960))
    (c,) = store.board(room.code).challenges
    assert (c.first.nickname, c.best.nickname, c.best.first_loss) == ("bob", "ada", 3.2960)
    with pytest.raises(RoomError, match="finite"):
        store.post_run(room.code, ada.token, trained(steps=20_000, key="a3", first_loss=float("inf")))


def test_a_lecture_challenge_passes_every_field_of_its_exercise(store, monkeypatch):
    from dataclasses import dataclass

    from makemore.rooms import challenges as lecture_challenges

    @dataclass(frozen=True)
    class Exercise:  # the fields of challenges.LectureChallenge
        title: str
        model: str
        target: float
        stage: str | None = None
        max_params: int | None = None
        max_seconds: float | None = None
        smallest: bool = False
        metric: str = "val_loss"
        lecture: str = ""

    monkeypatch.setattr(lecture_challenges, "LECTURE", {
        "init": Exercise("Lecture 3: a first loss within 0.01 of ln 27 = 3.2958", "mlp", 3.2958, stage="batchnorm",
                         max_params=20_000, max_seconds=60.0, metric="first_loss", lecture="lecture 3")}, raising=False)
    lecture_room = store.create_room("On the lectures' list", "names", lecture_fingerprint())
    store.add_lecture_challenge(lecture_room.code, lecture_room.teacher_key, "init")
    (c,) = store.board(lecture_room.code).challenges
    assert (c.title, c.stage, c.model, c.target, c.max_params, c.max_seconds, c.metric, c.lecture) == (
        "Lecture 3: a first loss within 0.01 of ln 27 = 3.2958", "batchnorm", "mlp", 3.2958, 20_000, 60.0,
        "first_loss", "init")  # the title as given, "=" and all: it comes from the code, not from a person


# --- 8. removing is undoable ------------------------------------------------------------------------
def test_a_removed_run_or_member_comes_back_and_the_student_sees_the_removal(store, room):
    clock = [1000.0]
    store.clock = lambda: clock[0]
    ada, bob = store.join(room.code, "ada"), store.join(room.code, "bob")
    store.post_run(room.code, ada.token, posted(key="a1", val_loss=2.3))
    store.post_run(room.code, ada.token, posted(key="a2", val_loss=2.1))
    store.post_run(room.code, bob.token, posted(key="b1"))
    best = next(r for r in store.board(room.code).runs if r.val_loss == 2.1)
    clock[0] = 2000.0
    store.remove_run(room.code, room.teacher_key, best.id)
    assert best.id not in {r.id for r in store.board(room.code).runs}
    mine = {r.id: r for r in store.my_runs(room.code, ada.token)}
    assert mine[best.id].removed and mine[best.id].removed_at == 2000.0 and len(mine) == 2
    assert [r.id for r in store.removed_runs(room.code, room.teacher_key)] == [best.id]
    assert [r.removed for r in store.my_runs(room.code, bob.token)] == [False]
    store.restore_run(room.code, room.teacher_key, best.id)
    assert store.board(room.code).leaderboards["mlp"][0].id == best.id
    assert not any(r.removed for r in store.my_runs(room.code, ada.token))

    store.remove_member(room.code, room.teacher_key, bob.id)
    assert store.member(room.code, bob.token) is None
    assert [m.nickname for m in store.removed_members(room.code, room.teacher_key)] == ["bob"]
    store.restore_member(room.code, room.teacher_key, bob.id)
    assert store.member(room.code, bob.token).nickname == "bob"  # the key works again
    assert {r.nickname for r in store.board(room.code).runs} == {"ada", "bob"}
    assert store.removed_members(room.code, room.teacher_key) == []


def test_undo_takes_only_this_rooms_ids_and_the_teachers_key(store, room):
    ada = store.join(room.code, "ada")
    store.post_run(room.code, ada.token, posted(key="a"))
    run_id = store.board(room.code).runs[0].id
    other = store.create_room("Another class", "names", WORDS)
    for action in (store.remove_run, store.restore_run, store.remove_member, store.restore_member):
        with pytest.raises(RoomError, match="teacher key"):
            action(room.code, other.teacher_key, run_id)
        with pytest.raises(RoomError, match="no such"):  # the other room's teacher, this room's id
            action(other.code, other.teacher_key, run_id if "run" in action.__name__ else ada.id)
        with pytest.raises(RoomError, match="no such|not one of"):
            action(room.code, room.teacher_key, "1; DROP TABLE runs")
    with pytest.raises(RoomError, match="teacher key"):
        store.removed_runs(room.code, ada.token)
    assert len(store.board(room.code).runs) == 1


# --- 12. predict, then train --------------------------------------------------------------------------
def a_poll(store, room, run_key="k64") -> int:
    return store.open_poll(room.code, room.teacher_key, "mlp", "mlp", run_key,
                           {"model": "mlp", "config": {"n_hidden": 64}, "training": {"max_steps": 2000}},
                           "stages/mlp.py?mlp_hidden=64")


def test_a_poll_takes_one_prediction_per_student_then_its_result_names_the_closest(store, room):
    clock = [1000.0]
    store.clock = lambda: clock[0]
    ada, bob, eve = (store.join(room.code, n) for n in ("ada", "bob", "eve"))
    poll = a_poll(store, room)
    for who, value in ((ada, 2.5), (bob, 2.3), (eve, 2.1), (ada, 2.2)):  # ada changes her mind: replaced
        clock[0] += 1
        store.predict(room.code, who.token, poll, value)
    (p,) = store.board(room.code).polls
    assert p.open and p.result is None and p.closest == []
    assert [(g.nickname, g.value) for g in p.predictions] == [("bob", 2.3), ("eve", 2.1), ("ada", 2.2)]  # oldest first
    assert [q.id for q in store.open_polls_for(room.code, "k64")] == [poll]
    assert store.open_polls_for(room.code, "x") == []
    store.poll_result(room.code, room.teacher_key, poll, 2.15, 11_897)
    (p,) = store.polls(room.code)
    assert not p.open and (p.result, p.params) == (2.15, 11_897)
    assert sorted(g.nickname for g in p.closest) == ["ada", "eve"]  # 0.05 off each: a tie names both
    assert store.open_polls_for(room.code, "k64") == []
    with pytest.raises(RoomError, match="poll is closed"):
        store.predict(room.code, bob.token, poll, 2.15)  # no prediction after the result
    with pytest.raises(RoomError, match="already has its result"):
        store.poll_result(room.code, room.teacher_key, poll, 1.0, 1)
    rows = list(csv.DictReader(io.StringIO(store.export_polls_csv(room.code, "http://10.0.0.5:8501"))))
    assert [(r["nickname"], r["predicted"], r["result"], r["off_by"], r["closest"]) for r in rows] == [
        ("bob", "2.3000", "2.1500", "0.1500", "no"), ("eve", "2.1000", "2.1500", "0.0500", "yes"),
        ("ada", "2.2000", "2.1500", "0.0500", "yes")]
    assert rows[0]["link"] == "http://10.0.0.5:8501/mlp?mlp_hidden=64"


def test_an_ended_poll_takes_no_more_predictions_and_polls_are_newest_first(store, room):
    ada = store.join(room.code, "ada")
    first, second = a_poll(store, room, "k1"), a_poll(store, room, "k2")
    store.end_poll(room.code, room.teacher_key, first)
    with pytest.raises(RoomError, match="poll is closed"):
        store.predict(room.code, ada.token, first, 2.0)
    assert [(p.id, p.open) for p in store.board(room.code).polls] == [(second, True), (first, False)]
    assert store.open_polls_for(room.code, "k1") == []
    rows = list(csv.DictReader(io.StringIO(store.export_polls_csv(room.code))))
    assert [(r["poll"], r["nickname"], r["result"]) for r in rows] == [(str(first), "", ""), (str(second), "", "")]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.01, 10.01, 1e308, "2.2", None, True, [2.2]])
def test_a_prediction_is_a_bounded_finite_number(store, room, value):
    ada = store.join(room.code, "ada")
    poll = a_poll(store, room)
    with pytest.raises(RoomError, match="from 0 to 10"):
        store.predict(room.code, ada.token, poll, value)
    if value is not None:  # a run's own prediction is optional: None is "none noted"
        with pytest.raises(RoomError, match="from 0 to 10"):
            store.post_run(room.code, ada.token, trained(steps=20_000, predicted=value))
    assert store.polls(room.code)[0].predictions == [] and store.board(room.code).runs == []
    for edge in (0, 10, 3.2958):
        store.predict(room.code, ada.token, poll, edge)


def test_nothing_a_browser_sends_changes_another_students_prediction(store, room):
    ada, bob = store.join(room.code, "ada"), store.join(room.code, "bob")
    poll = a_poll(store, room)
    store.predict(room.code, ada.token, poll, 2.0)
    other = store.create_room("Another class", "names", WORDS)
    elsewhere = store.open_poll(other.code, other.teacher_key, "mlp", "mlp", "k", {}, "stages/mlp.py")
    for token in ("", "A" * 16, ada.token[:-1], None, 42, "x" * 10_000, room.teacher_key):
        with pytest.raises(RoomError, match="not a member"):
            store.predict(room.code, token, poll, 9.0)
    with pytest.raises(RoomError, match="no such poll"):
        store.predict(room.code, bob.token, elsewhere, 9.0)  # another room's poll
    with pytest.raises(RoomError, match="not a member"):
        store.predict(other.code, bob.token, elsewhere, 9.0)  # a key opens only its own room
    store.predict(room.code, bob.token, poll, 3.0)  # bob's own: a second row, never ada's
    store.remove_member(room.code, room.teacher_key, bob.id)
    with pytest.raises(RoomError, match="not a member"):
        store.predict(room.code, bob.token, poll, 9.0)
    assert [(g.nickname, g.value) for g in store.polls(room.code)[0].predictions] == [("ada", 2.0)]  # present only
    for wrong in ("", other.teacher_key, ada.token):
        for action in (lambda k: store.poll_result(room.code, k, poll, 0.1, 1),
                       lambda k: store.end_poll(room.code, k, poll),
                       lambda k: a_poll(store, type(room)(room.room, k))):
            with pytest.raises(RoomError, match="teacher key"):
                action(wrong)
    assert store.polls(room.code)[0].open and len(store.polls(room.code)) == 1


def test_poll_bounds_each_say_so(store, room, monkeypatch):
    monkeypatch.setattr(limits, "MAX_POLLS", 2)
    a_poll(store, room)
    poll = a_poll(store, room)
    with pytest.raises(RoomError, match="at most 2 polls"):
        a_poll(store, room)
    for bad in (float("nan"), -1.0, "2.1", None):
        with pytest.raises(RoomError, match="finite val loss"):
            store.poll_result(room.code, room.teacher_key, poll, bad, 10)
    with pytest.raises(RoomError, match="whole number"):
        store.poll_result(room.code, room.teacher_key, poll, 2.0, 1.5)
    with pytest.raises(RoomError, match="run_key is text"):
        store.open_poll(room.code, room.teacher_key, "mlp", "mlp", "k" * 65, {}, "stages/mlp.py")
    with pytest.raises(RoomError, match="no such poll"):
        store.end_poll(room.code, room.teacher_key, 10_000)
    store.set_closed(room.code, room.teacher_key, True)
    monkeypatch.setattr(limits, "MAX_POLLS", 100)
    with pytest.raises(RoomError, match="closed"):
        a_poll(store, room)


def test_thirty_students_predicting_at_once_lose_nothing(store, room):
    students = [store.join(room.code, f"student {i}") for i in range(30)]
    poll = a_poll(store, room)
    assert at_once(30, lambda i: store.predict(room.code, students[i].token, poll, 2 + i / 100)) == []
    (p,) = store.board(room.code).polls
    assert sorted(g.value for g in p.predictions) == [2 + i / 100 for i in range(30)]
    # and again at once, each replacing their own: still thirty, each the new value
    assert at_once(30, lambda i: store.predict(room.code, students[i].token, poll, 3 + i / 100)) == []
    assert sorted(g.value for g in store.polls(room.code)[0].predictions) == [3 + i / 100 for i in range(30)]


def test_a_students_own_prediction_is_kept_with_their_run(store, room):
    ada = store.join(room.code, "ada")
    store.post_run(room.code, ada.token, trained(steps=20_000, predicted=2.4, first_loss=3.31))
    (run,) = store.board(room.code).runs
    assert (run.predicted, run.first_loss) == (2.4, 3.31)
