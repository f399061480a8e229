"""Rooms, their members and their runs, in SQL through SQLAlchemy.

By default a SQLite file in the model cache folder (WAL mode: many students posting at once wait
for each other instead of failing); any SQLAlchemy URL from MAKEMORE_DB_URL (or passed in) for a
school's PostgreSQL server. The schema is created on first use and carries its version, so that a
later version of the app upgrades a database in place without losing a room (MIGRATIONS).

Keys are never stored, only their SHA-256, and a key is checked in constant time. A score on the
board is only ever what the server posts for a run it trained to its last step (PostedRun): nothing
here takes a score from a browser. The one number a student types, a predicted val loss (a poll's or
their own run's), is bounded and stored under the student's own key alone.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import math
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from makemore import limits
from makemore.rooms import challenges as lecture_challenges
from makemore.rooms.links import app_url, page_url
from makemore.rooms.text import (
    TextError,
    checked_nickname,
    checked_title,
    looks_like,
    mixed_scripts,
    new_code,
    new_key,
    nickname_key,
    normal_code,
)

SCHEMA_VERSION = 3
METRICS = ("val_loss", "first_loss")  # what a challenge's target is a figure of
# lecture 3's exercise: a loss at step one this close to a uniform guess's ln 27 = 3.2958
FIRST_LOSS_TOLERANCE = 0.01
MAX_CHALLENGE_TITLE_CHARS = 120
NO_SUCH_ROOM = "No such room."  # the same words for a wrong code, an expired one and a typo: nothing to probe


class RoomError(ValueError):
    """What a teacher or student is told, as one sentence."""


# --- the schema ------------------------------------------------------------------------------
metadata = sa.MetaData()

schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))

rooms = sa.Table(
    "rooms", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(16), nullable=False, unique=True),
    sa.Column("title", sa.String(limits.MAX_TITLE_CHARS), nullable=False),
    sa.Column("teacher_key_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False, default=False),
    sa.Column("dataset", sa.String(64), nullable=False),  # the word list's name, as the dataset picker shows it
    sa.Column("fingerprint", sa.String(64), nullable=False),  # of those words: a run on other words is not posted
    sa.Column("words", sa.Text, nullable=True),  # an uploaded list, kept with the room; None for a built-in one
)

members = sa.Table(
    "members", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("nickname", sa.String(limits.MAX_NICKNAME_CHARS), nullable=False),
    sa.Column("nickname_key", sa.String(4 * limits.MAX_NICKNAME_CHARS), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("joined_at", sa.Float, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, default=False),
    sa.Column("removed_at", sa.Float, nullable=True),  # version 3: when (a removal can be undone)
    sa.UniqueConstraint("room_id", "nickname_key", name="one_nickname_per_room"),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("model", sa.String(32), nullable=False),
    sa.Column("run_key", sa.String(64), nullable=False),
    sa.Column("settings", sa.Text, nullable=False),  # Run.to_dict() as JSON
    sa.Column("val_loss", sa.Float, nullable=False),
    sa.Column("params", sa.Integer, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("link", sa.Text, nullable=False),  # the page and query that reopen the setting
    sa.Column("posted_at", sa.Float, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, default=False),
    # version 3
    sa.Column("predicted", sa.Float, nullable=True),  # the student's own prediction of val_loss, noted before Train
    sa.Column("first_loss", sa.Float, nullable=True),  # the loss at step 1
    sa.Column("removed_at", sa.Float, nullable=True),
    sa.UniqueConstraint("member_id", "run_key", name="one_post_per_run"),
)

# version 2: challenges (a change to the schema after rooms existed: see MIGRATIONS)
challenges = sa.Table(
    "challenges", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("lecture", sa.String(32), nullable=True),  # a lecture exercise's name (challenges.LECTURE), else None
    sa.Column("title", sa.String(120), nullable=False),
    sa.Column("stage", sa.String(32), nullable=True),
    sa.Column("model", sa.String(32), nullable=True),
    sa.Column("target", sa.Float, nullable=False),  # val loss to beat, or first loss to come near (metric)
    sa.Column("max_params", sa.Integer, nullable=True),
    sa.Column("max_seconds", sa.Float, nullable=True),
    sa.Column("smallest", sa.Boolean, nullable=False, default=False),  # its best is the fewest parameters
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("metric", sa.String(16), nullable=False, server_default="val_loss"),  # version 3: METRICS
)

# version 3: "predict, then train" polls and the students' predictions
polls = sa.Table(
    "polls", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("model", sa.String(32), nullable=False),
    sa.Column("run_key", sa.String(64), nullable=False),  # what the server trains for the result
    sa.Column("settings", sa.Text, nullable=False),  # Run.to_dict() as JSON
    sa.Column("link", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ended", sa.Boolean, nullable=False, default=False),  # no more predictions
    sa.Column("result", sa.Float, nullable=True),  # the val loss the server trained
    sa.Column("params", sa.Integer, nullable=True),
)

predictions = sa.Table(
    "predictions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("poll_id", sa.Integer, sa.ForeignKey("polls.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("member_id", sa.Integer, sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("made_at", sa.Float, nullable=False),
    sa.UniqueConstraint("poll_id", "member_id", name="one_prediction_per_member"),
)


def _add_columns(conn, table: sa.Table, names: list[str]) -> None:
    """ALTER TABLE ... ADD COLUMN for each of `names` the table lacks: a database created by this
    version already has them (MIGRATIONS[1] creates the tables as they are now)."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            column = sa.schema.CreateColumn(table.c[name]).compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column}"))


def _version_3(conn) -> None:
    _add_columns(conn, runs, ["predicted", "first_loss", "removed_at"])
    _add_columns(conn, members, ["removed_at"])
    _add_columns(conn, challenges, ["metric"])
    for table in (polls, predictions):
        table.create(conn, checkfirst=True)


MIGRATIONS = {  # version -> what brings a database from the version before to it
    1: lambda conn: [t.create(conn, checkfirst=True) for t in (rooms, members, runs)],
    2: lambda conn: challenges.create(conn, checkfirst=True),
    3: _version_3,
}


# --- what the store hands out -------------------------------------------------------------------
@dataclass(frozen=True)
class Room:
    code: str
    title: str
    created_at: float
    closed: bool
    dataset: str
    fingerprint: str
    words: str | None  # an uploaded list's words, one a line

    @property
    def expires_at(self) -> float:
        return self.created_at + limits.ROOM_DAYS * 86400


@dataclass(frozen=True)
class NewRoom:
    room: Room
    teacher_key: str  # shown once to the teacher; the store keeps only its hash

    @property
    def code(self) -> str:
        return self.room.code


@dataclass(frozen=True)
class Member:
    id: int
    code: str  # the room's
    nickname: str
    joined_at: float
    token: str | None = None  # only when just joined: the key that brings this student back
    runs: int = 0


@dataclass(frozen=True)
class PostedRun:
    """A finished training, as the server that trained it posts it."""

    stage: str  # the page's stage ("mlp")
    model: str
    run_key: str  # its cache key on the room's words
    settings: dict  # Run.to_dict()
    fingerprint: str  # the words it was trained on
    val_loss: float
    params: int
    seconds: float
    link: str  # "stages/mlp.py?mlp_hidden=64"
    # steps trained: the store refuses a run whose steps differ from settings["training"]["max_steps"],
    # so that a stopped training is never posted under settings it did not finish
    steps: int | None = None
    first_loss: float | None = None  # result.loss_history[0]
    predicted: float | None = None  # the student's own prediction of val_loss, bounded like a poll's


@dataclass(frozen=True)
class RoomRun:
    id: int
    nickname: str
    member_id: int
    stage: str
    model: str
    settings: dict
    val_loss: float
    params: int
    seconds: float
    link: str
    posted_at: float
    first_loss: float | None = None
    predicted: float | None = None
    removed: bool = False  # by the teacher (only a student's own list, my_runs, holds removed runs)
    removed_at: float | None = None


@dataclass(frozen=True)
class Challenge:
    id: int
    title: str
    stage: str | None
    model: str | None
    target: float
    max_params: int | None
    max_seconds: float | None
    smallest: bool
    lecture: str | None
    first: RoomRun | None = None  # the first run that met it
    # the lowest loss (first_loss: the nearest the target; `smallest`: the fewest parameters) that met it
    best: RoomRun | None = None
    metric: str = "val_loss"  # METRICS: val_loss under target, or first_loss within FIRST_LOSS_TOLERANCE of it

    def met_by(self, run: RoomRun) -> bool:
        if self.metric == "first_loss":
            hit = run.first_loss is not None and abs(run.first_loss - self.target) <= FIRST_LOSS_TOLERANCE
        else:
            hit = run.val_loss < self.target
        return ((self.stage is None or run.stage == self.stage) and (self.model is None or run.model == self.model)
                and hit
                and (self.max_params is None or run.params <= self.max_params)
                and (self.max_seconds is None or run.seconds <= self.max_seconds))


@dataclass(frozen=True)
class Prediction:
    member_id: int
    nickname: str
    value: float
    made_at: float


@dataclass(frozen=True)
class Poll:
    """A setting the teacher put to the class: each student predicts its val loss, then the server trains it."""

    id: int
    stage: str  # the page's stage id ("mlp")
    model: str
    run_key: str  # the cache key of the run put to the class (what the server trains)
    settings: dict  # Run.to_dict()
    link: str  # "stages/mlp.py?mlp_hidden=64": the page and query that reopen it
    created_at: float
    open: bool  # predictions accepted (until the result is in, or the teacher ends it)
    result: float | None  # the val loss the server trained, once in
    params: int | None
    predictions: list[Prediction]  # oldest first, one per member (present members only)

    @property
    def closest(self) -> list[Prediction]:
        """The predictions nearest the result (all of a tie, to the 4 decimals the board shows, so that
        2.2 and 2.1 around 2.15 tie despite binary floats); none before the result is in."""
        if self.result is None or not self.predictions:
            return []
        nearest = min(self.off_by(p) for p in self.predictions)
        return [p for p in self.predictions if self.off_by(p) == nearest]

    def off_by(self, prediction: Prediction) -> float | None:
        """How far the prediction is from the result (4 decimals), None before the result is in."""
        return None if self.result is None else round(abs(prediction.value - self.result), 4)


@dataclass(frozen=True)
class Board:
    room: Room
    members: list[Member]
    runs: list[RoomRun]  # newest first
    leaderboards: dict[str, list[RoomRun]] = field(default_factory=dict)  # stage -> each member's best, best first
    challenges: list[Challenge] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)  # newest first


def default_url() -> str:
    """MAKEMORE_DB_URL, else a SQLite file in the model cache folder."""
    url = os.environ.get("MAKEMORE_DB_URL", "").strip()
    if url:
        return url
    from makemore.serving.cache import default_cache_dir
    folder = default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(folder) / 'classroom.sqlite'}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _same_secret(given: str, stored_hash: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(_hash(given), stored_hash)


class RoomStore:
    def __init__(self, url: str | None = None, clock=time.time):
        self.url = url or default_url()
        self.clock = clock
        self.engine = _engine(self.url)
        # boards read lately, for the many viewers of one room (board(max_age=)); every write through
        # this store forgets them all, so that a member's own change shows at once
        self._boards: dict[str, tuple[float, Board]] = {}
        self._writes = 0
        self._boards_lock = threading.Lock()
        self._upgrade()

    def __repr__(self) -> str:
        return f"RoomStore({sa.engine.make_url(self.url).render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # --- the schema's version ---------------------------------------------------------------------
    def _upgrade(self) -> None:
        with self._write() as conn:
            schema_version.create(conn, checkfirst=True)
            version = conn.execute(sa.select(schema_version.c.version)).scalar()
            if version is None:
                version = 0
                conn.execute(schema_version.insert().values(version=0))
            if version > SCHEMA_VERSION:
                raise RoomError(f"The class-room database was written by a newer version of the app (schema "
                                f"{version}, this one knows {SCHEMA_VERSION}); upgrade the app before using it.")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[step](conn)
            conn.execute(schema_version.update().values(version=SCHEMA_VERSION))

    def version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(schema_version.c.version)).scalar_one()

    @contextmanager
    def _write(self):
        """A transaction that writes: on SQLite it takes the write lock when it starts, so that two
        writers queue (busy_timeout) instead of one failing when it upgrades a read to a write."""
        try:
            with self.engine.connect().execution_options(write=True) as conn, conn.begin():
                yield conn
        finally:
            with self._boards_lock:
                self._writes += 1
                self._boards.clear()

    # --- rooms ------------------------------------------------------------------------------------
    def create_room(self, title: str, dataset: str, fingerprint: str, words: str | None = None) -> NewRoom:
        title = _text(checked_title, title)
        if words is not None and len(words.encode("utf-8")) > limits.MAX_FILE_BYTES:
            raise RoomError(f"A room's word list is at most {limits.MAX_FILE_BYTES:,} bytes.")
        now = self.clock()
        key = new_key()
        with self._write() as conn:
            open_rooms = conn.execute(sa.select(sa.func.count()).select_from(rooms).where(
                rooms.c.closed.is_(False), rooms.c.created_at > now - limits.ROOM_DAYS * 86400)).scalar_one()
            if open_rooms >= limits.MAX_ROOMS:
                raise RoomError(f"This server has {limits.MAX_ROOMS} open rooms, its most: close a room "
                                "before opening another.")
            for _ in range(8):  # a clash of two random codes is rare; try a few before giving up
                code = new_code()
                if conn.execute(sa.select(rooms.c.id).where(rooms.c.code == code)).first() is None:
                    break
            else:
                raise RoomError("No free room code was found; try again.")
            conn.execute(rooms.insert().values(code=code, title=title, teacher_key_hash=_hash(key), created_at=now,
                                               closed=False, dataset=dataset, fingerprint=fingerprint, words=words))
        return NewRoom(Room(code, title, now, False, dataset, fingerprint, words), key)

    def room(self, code: str) -> Room | None:
        """The room with this code (as typed: any case, with or without its dash), or None when
        there is none or it has expired."""
        with self.engine.connect() as conn:
            row = self._room_row(conn, code)
        return None if row is None else _room(row)

    def _room_row(self, conn, code, lock: bool = False):
        """With lock, the row stays locked (PostgreSQL's SELECT ... FOR UPDATE) until the transaction
        ends: writers that check the room's members or polls before adding one then take turns. SQLite
        needs no lock: a writing transaction there already holds the whole database (BEGIN IMMEDIATE)."""
        if not isinstance(code, str) or len(code) > 32:
            return None
        query = sa.select(rooms).where(rooms.c.code == normal_code(code))
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None or row.created_at + limits.ROOM_DAYS * 86400 < self.clock():
            return None
        return row

    def _open_room(self, conn, code, lock: bool = False):
        row = self._room_row(conn, code, lock)
        if row is None:
            raise RoomError(NO_SUCH_ROOM)
        return row

    def is_teacher(self, code: str, key: str) -> bool:
        with self.engine.connect() as conn:
            row = self._room_row(conn, code)
        # compared even when there is no room, so that the time taken does not tell which codes exist
        return _same_secret(key, row.teacher_key_hash if row is not None else _hash("")) and row is not None

    def _teacher_room(self, conn, code: str, key: str, lock: bool = False):
        row = self._open_room(conn, code, lock)
        if not _same_secret(key, row.teacher_key_hash):
            raise RoomError("That teacher key does not open this room.")
        return row

    def set_closed(self, code: str, key: str, closed: bool) -> None:
        with self._write() as conn:
            row = self._teacher_room(conn, code, key)
            conn.execute(rooms.update().where(rooms.c.id == row.id).values(closed=closed))

    def set_words(self, code: str, key: str, dataset: str, fingerprint: str, words: str | None) -> None:
        """The teacher's choice of word list; runs already on the board stay, runs on other words are not posted."""
        if words is not None and len(words.encode("utf-8")) > limits.MAX_FILE_BYTES:
            raise RoomError(f"A room's word list is at most {limits.MAX_FILE_BYTES:,} bytes.")
        with self._write() as conn:
            row = self._teacher_room(conn, code, key)
            conn.execute(rooms.update().where(rooms.c.id == row.id).values(
                dataset=dataset, fingerprint=fingerprint, words=words))

    # --- members ----------------------------------------------------------------------------------
    def join(self, code: str, nickname: str) -> Member:
        nickname = _text(checked_nickname, nickname)
        token = new_key()
        now = self.clock()
        try:
            with self._write() as conn:
                # locked: two joins at one moment then check the look-alikes one after the other
                row = self._open_room(conn, code, lock=True)
                if row.closed:
                    raise RoomError("This room is closed: its teacher has ended it.")
                present = conn.execute(sa.select(members.c.nickname, members.c.nickname_key, members.c.removed).where(
                    members.c.room_id == row.id)).all()
                if len(present) >= limits.MAX_MEMBERS:
                    raise RoomError(f"This room has {limits.MAX_MEMBERS} members, its most.")
                if any(m.nickname_key == nickname_key(nickname) for m in present):
                    raise RoomError(f"Somebody in this room is already called {nickname!r}: pick another nickname "
                                    "(or, if it is you, use your return key).")
                twin = looks_like(nickname, [m.nickname for m in present if not m.removed])
                if twin is not None:
                    raise RoomError(f"“{nickname}” looks just like “{twin}”, who is already in this room: "
                                    "pick another nickname.")
                scripts = mixed_scripts(nickname)
                if scripts:
                    raise RoomError(f"“{nickname}” mixes {' and '.join(scripts)} letters inside one word, which makes "
                                    "a name look like another: write each word in one script.")
                member_id = conn.execute(members.insert().values(
                    room_id=row.id, nickname=nickname, nickname_key=nickname_key(nickname),
                    token_hash=_hash(token), joined_at=now, removed=False)).inserted_primary_key[0]
        except IntegrityError:  # two students took the same nickname at the same moment
            raise RoomError(f"Somebody in this room is already called {nickname!r}: pick another nickname.") from None
        return Member(member_id, row.code, nickname, now, token)

    def member(self, code: str, token: str) -> Member | None:
        """The student whose key this is, in this room; None for a wrong key, a removed member or no room."""
        if not isinstance(token, str) or len(token) > 64:
            return None
        with self.engine.connect() as conn:
            room = self._room_row(conn, code)
            if room is None:
                return None
            row = conn.execute(sa.select(members).where(
                members.c.token_hash == _hash(normal_code(token)), members.c.room_id == room.id)).first()
        if row is None or row.removed or not _same_secret(normal_code(token), row.token_hash):
            return None
        return Member(row.id, room.code, row.nickname, row.joined_at)

    def remove_member(self, code: str, key: str, member_id: int) -> None:
        """The member's runs and predictions leave the board and their key stops working; the
        nickname stays taken. restore_member undoes it."""
        self._set_removed(members, code, key, member_id, True)

    def restore_member(self, code: str, key: str, member_id: int) -> None:
        """Undo remove_member: the member's key works again and their runs are back on the board."""
        self._set_removed(members, code, key, member_id, False)

    def removed_members(self, code: str, key: str) -> list[Member]:
        """The members the teacher removed, the latest first (for the teacher's undo)."""
        with self.engine.connect() as conn:
            room = self._teacher_room(conn, code, key)
            rows = conn.execute(sa.select(members).where(members.c.room_id == room.id, members.c.removed.is_(True))
                                .order_by(members.c.removed_at.desc(), members.c.id.desc())).all()
        return [Member(m.id, room.code, m.nickname, m.joined_at) for m in rows]

    def _set_removed(self, table: sa.Table, code: str, key: str, row_id: int, removed: bool) -> None:
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            raise RoomError("That is not one of this room's ids.")
        with self._write() as conn:
            room = self._teacher_room(conn, code, key)
            changed = conn.execute(table.update().where(table.c.id == row_id, table.c.room_id == room.id).values(
                removed=removed, removed_at=self.clock() if removed else None)).rowcount
        if not changed:
            raise RoomError(f"This room has no such {'member' if table is members else 'run'}.")

    # --- runs -------------------------------------------------------------------------------------
    def post_run(self, code: str, token: str, run: PostedRun) -> bool:
        """Put a finished training on the room's board. False when it is already there (the same
        student, the same run); RoomError when it cannot be posted (closed room, other words, …)."""
        values = [run.val_loss, run.seconds] + ([] if run.first_loss is None else [run.first_loss])
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise RoomError("Only a finished training with a finite loss is posted.")
        planned = (run.settings.get("training") or {}).get("max_steps") if isinstance(run.settings, dict) else None
        if planned is not None and (run.steps != planned or not isinstance(planned, int)):
            done = f"{run.steps:,} of its" if isinstance(run.steps, int) else "an unknown number of"
            total = f"{planned:,}" if isinstance(planned, int) else repr(planned)[:20]
            raise RoomError(f"This training stopped after {done} {total} steps, so it is not posted under "
                            "settings it did not finish.")
        predicted = None if run.predicted is None else _prediction(run.predicted)
        now = self.clock()
        try:
            with self._write() as conn:
                room = self._open_room(conn, code)
                me = self._my_row(conn, room, token)
                if room.closed:
                    raise RoomError("This room is closed: its teacher has ended it, so runs are no longer posted.")
                if run.fingerprint != room.fingerprint:
                    raise RoomError(f"This run was trained on other words than the room's list ({room.dataset}), "
                                    "so it is not posted.")
                if conn.execute(sa.select(runs.c.id).where(runs.c.member_id == me.id,
                                                           runs.c.run_key == run.run_key)).first() is not None:
                    return False
                count = conn.execute(sa.select(sa.func.count()).select_from(runs).where(
                    runs.c.member_id == me.id)).scalar_one()
                if count >= limits.MAX_RUNS_PER_MEMBER:
                    raise RoomError(f"You have posted {limits.MAX_RUNS_PER_MEMBER} runs to this room, its most.")
                conn.execute(runs.insert().values(
                    room_id=room.id, member_id=me.id, stage=run.stage, model=run.model, run_key=run.run_key,
                    settings=json.dumps(run.settings, sort_keys=True), val_loss=float(run.val_loss),
                    params=int(run.params), seconds=float(run.seconds), link=run.link, posted_at=now, removed=False,
                    first_loss=None if run.first_loss is None else float(run.first_loss), predicted=predicted))
        except IntegrityError:  # the same run posted twice at the same moment
            return False
        return True

    def remove_run(self, code: str, key: str, run_id: int) -> None:
        """The run leaves the board (its student still sees it, marked removed); restore_run undoes it."""
        self._set_removed(runs, code, key, run_id, True)

    def restore_run(self, code: str, key: str, run_id: int) -> None:
        """Undo remove_run: the run is back on the board."""
        self._set_removed(runs, code, key, run_id, False)

    def removed_runs(self, code: str, key: str) -> list[RoomRun]:
        """The runs the teacher removed (of present members), the latest removed first (for the teacher's undo)."""
        with self.engine.connect() as conn:
            room = self._teacher_room(conn, code, key)
            rows = conn.execute(sa.select(runs, members.c.nickname).join(members, members.c.id == runs.c.member_id)
                                .where(runs.c.room_id == room.id, runs.c.removed.is_(True),
                                       members.c.removed.is_(False))
                                .order_by(runs.c.removed_at.desc(), runs.c.id.desc())).all()
        return [_room_run(r, r.nickname) for r in rows]

    def my_runs(self, code: str, token: str) -> list[RoomRun]:
        """The student's own runs, newest first, with those the teacher removed (removed=True)."""
        me = self.member(code, token)
        if me is None:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).where(runs.c.member_id == me.id)
                                .order_by(runs.c.posted_at.desc(), runs.c.id.desc())).all()
        return [_room_run(r, me.nickname) for r in rows]

    # --- challenges -------------------------------------------------------------------------------
    def add_challenge(self, code: str, key: str, title: str, target: float, stage: str | None = None,
                      model: str | None = None, max_params: int | None = None, max_seconds: float | None = None,
                      smallest: bool = False, lecture: str | None = None, metric: str = "val_loss") -> int:
        title = _text(checked_title, title)
        return self._add_challenge(code, key, title, target, stage, model, max_params, max_seconds, smallest,
                                   lecture, metric)

    def _add_challenge(self, code, key, title, target, stage, model, max_params, max_seconds, smallest, lecture,
                       metric) -> int:
        if metric not in METRICS:
            raise RoomError(f"A challenge's figure is one of {', '.join(METRICS)}, not {str(metric)[:40]!r}.")
        if not (isinstance(target, (int, float)) and 0 < target < 100):
            raise RoomError("A challenge's target is a loss above 0 and under 100 (a uniform guess on 27 characters "
                            "is 3.30).")
        if max_params is not None and not (isinstance(max_params, int) and max_params >= 1):
            raise RoomError("A challenge's most parameters is a whole number of at least 1.")
        if max_seconds is not None and not (isinstance(max_seconds, (int, float)) and max_seconds > 0):
            raise RoomError("A challenge's most seconds is a number above 0.")
        with self._write() as conn:
            row = self._teacher_room(conn, code, key, lock=True)  # two teacher tabs adding at once count in turn
            existing = conn.execute(sa.select(challenges.c.lecture).where(challenges.c.room_id == row.id)).all()
            if lecture is not None and (lecture,) in existing:
                raise RoomError("That challenge is already on in this room.")
            if len(existing) >= limits.MAX_CHALLENGES:
                raise RoomError(f"A room holds at most {limits.MAX_CHALLENGES} challenges.")
            return conn.execute(challenges.insert().values(
                room_id=row.id, lecture=lecture, title=title, stage=stage, model=model, target=float(target),
                max_params=max_params, max_seconds=max_seconds, smallest=smallest, metric=metric,
                created_at=self.clock())).inserted_primary_key[0]

    def add_lecture_challenge(self, code: str, key: str, name: str) -> int:
        """Switch on one of the lectures' exercises (challenges.LECTURE), only in a room on the lectures' list.
        Its title is the exercise's own, stored as given (it comes from the code, not from a person)."""
        exercise = lecture_challenges.LECTURE.get(name)
        if exercise is None:
            raise RoomError(f"There is no lecture challenge {name!r}.")
        room = self.room(code)
        if room is not None and room.fingerprint != lecture_challenges.lecture_fingerprint():
            raise RoomError("The lectures' figures were measured on the lectures' list (names): a room on other "
                            "words can set challenges of its own.")
        title = exercise.title
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_CHALLENGE_TITLE_CHARS:
            raise RoomError(f"The lecture challenge {name!r} has no title of at most {MAX_CHALLENGE_TITLE_CHARS} "
                            "characters.")
        # getattr: the fields each exercise may leave out keep the store's defaults
        return self._add_challenge(
            code, key, title, exercise.target, getattr(exercise, "stage", None), exercise.model,
            getattr(exercise, "max_params", None), getattr(exercise, "max_seconds", None),
            getattr(exercise, "smallest", False), name, getattr(exercise, "metric", "val_loss"))

    def remove_challenge(self, code: str, key: str, challenge_id: int) -> None:
        with self._write() as conn:
            row = self._teacher_room(conn, code, key)
            conn.execute(challenges.delete().where(challenges.c.id == challenge_id, challenges.c.room_id == row.id))

    # --- polls: predict, then train ---------------------------------------------------------------
    def open_poll(self, code: str, key: str, stage: str, model: str, run_key: str, settings: dict, link: str) -> int:
        """Put a setting to the class: students predict its val loss until the result is in (poll_result)."""
        fields = {"stage": (stage, 32), "model": (model, 32), "run_key": (run_key, 64), "link": (link, 2000)}
        for name, (value, most) in fields.items():
            if not isinstance(value, str) or not value or len(value) > most:
                raise RoomError(f"A poll's {name} is text of 1 to {most} characters.")
        if not isinstance(settings, dict):
            raise RoomError("A poll's settings are a run's settings (Run.to_dict()).")
        with self._write() as conn:
            room = self._teacher_room(conn, code, key, lock=True)  # the count below stays true until the insert
            if room.closed:
                raise RoomError("This room is closed: its teacher has ended it, so it takes no new polls.")
            count = conn.execute(sa.select(sa.func.count()).select_from(polls).where(
                polls.c.room_id == room.id)).scalar_one()
            if count >= limits.MAX_POLLS:
                raise RoomError(f"A room keeps at most {limits.MAX_POLLS} polls.")
            return conn.execute(polls.insert().values(
                room_id=room.id, stage=stage, model=model, run_key=run_key,
                settings=json.dumps(settings, sort_keys=True), link=link, created_at=self.clock(),
                ended=False)).inserted_primary_key[0]

    def predict(self, code: str, token: str, poll_id: int, value: float) -> None:
        """The student's prediction of the poll's val loss; a new one replaces theirs while the poll is open.
        Only the key's own member is ever written: nothing sent can change another student's prediction."""
        value = _prediction(value)
        now = self.clock()
        for attempt in range(2):
            try:
                with self._write() as conn:
                    room = self._open_room(conn, code)
                    me = self._my_row(conn, room, token)
                    if room.closed:
                        raise RoomError("This room is closed: its teacher has ended it.")
                    poll = self._poll_row(conn, room, poll_id)
                    if poll.ended or poll.result is not None:
                        raise RoomError("This poll is closed: predictions were taken until its result came in.")
                    mine = (predictions.c.poll_id == poll.id) & (predictions.c.member_id == me.id)
                    if not conn.execute(predictions.update().where(mine).values(value=value, made_at=now)).rowcount:
                        conn.execute(predictions.insert().values(poll_id=poll.id, member_id=me.id, value=value,
                                                                 made_at=now))
                return
            except IntegrityError:  # the same student's two tabs at one moment: the second replaces the first
                if attempt:
                    raise RoomError("Your prediction was not saved; send it again.") from None

    def poll_result(self, code: str, key: str, poll_id: int, val_loss: float, params: int) -> None:
        """The val loss the server itself trained for the poll's setting; it closes the poll."""
        if not (isinstance(val_loss, (int, float)) and not isinstance(val_loss, bool) and math.isfinite(val_loss)
                and val_loss >= 0):
            raise RoomError("A poll's result is a finished training's finite val loss.")
        if not (isinstance(params, int) and not isinstance(params, bool) and params >= 0):
            raise RoomError("A poll's parameter count is a whole number.")
        with self._write() as conn:
            room = self._teacher_room(conn, code, key)
            poll = self._poll_row(conn, room, poll_id)
            if poll.result is not None:
                raise RoomError("This poll already has its result.")
            conn.execute(polls.update().where(polls.c.id == poll.id).values(
                result=float(val_loss), params=params, ended=True))

    def end_poll(self, code: str, key: str, poll_id: int) -> None:
        """No more predictions, without a result."""
        with self._write() as conn:
            room = self._teacher_room(conn, code, key)
            poll = self._poll_row(conn, room, poll_id)
            conn.execute(polls.update().where(polls.c.id == poll.id).values(ended=True))

    def polls(self, code: str) -> list[Poll]:
        """The room's polls, newest first (also Board.polls)."""
        with self.engine.connect() as conn:
            room = self._open_room(conn, code)
            return self._read_polls(conn, room)

    def open_polls_for(self, code: str, run_key: str) -> list[Poll]:
        """The open polls on that run: when the server has trained it, each takes its result."""
        return [p for p in self.polls(code) if p.open and p.run_key == run_key]

    def _read_polls(self, conn, room) -> list[Poll]:
        poll_rows = conn.execute(sa.select(polls).where(polls.c.room_id == room.id)
                                 .order_by(polls.c.created_at.desc(), polls.c.id.desc())).all()
        guesses = conn.execute(
            sa.select(predictions, members.c.nickname).join(polls, polls.c.id == predictions.c.poll_id)
            .join(members, members.c.id == predictions.c.member_id)
            .where(polls.c.room_id == room.id, members.c.removed.is_(False))
            .order_by(predictions.c.made_at, predictions.c.id)).all()
        by_poll: dict[int, list[Prediction]] = {}
        for g in guesses:
            by_poll.setdefault(g.poll_id, []).append(Prediction(g.member_id, g.nickname, g.value, g.made_at))
        return [Poll(p.id, p.stage, p.model, p.run_key, json.loads(p.settings), p.link, p.created_at,
                     not p.ended and p.result is None, p.result, p.params, by_poll.get(p.id, []))
                for p in poll_rows]

    def _poll_row(self, conn, room, poll_id):
        row = None
        if isinstance(poll_id, int) and not isinstance(poll_id, bool):
            row = conn.execute(sa.select(polls).where(polls.c.id == poll_id, polls.c.room_id == room.id)).first()
        if row is None:
            raise RoomError("This room has no such poll.")
        return row

    def _my_row(self, conn, room, token):
        """The member whose key this is, in this room, or RoomError."""
        me = None
        if isinstance(token, str) and len(token) <= 64:
            me = conn.execute(sa.select(members).where(members.c.token_hash == _hash(normal_code(token)),
                                                       members.c.room_id == room.id)).first()
        if me is None or me.removed or not _same_secret(normal_code(token), me.token_hash):
            raise RoomError("You are not a member of this room.")
        return me

    # --- the board --------------------------------------------------------------------------------
    def board(self, code: str, max_age: float = 0.0) -> Board:
        """The room's board. With max_age, a board this store read at most that many seconds ago
        will do: thirty open boards and a projector then cost one read per room every few seconds,
        not one each. Another server's writes show within max_age; this store's own at once."""
        if max_age > 0:
            with self._boards_lock:
                read_at, board = self._boards.get(normal_code(code), (-math.inf, None))
                writes = self._writes
            if board is not None and time.monotonic() - read_at <= max_age:
                return board
            read_at, board = time.monotonic(), self._read_board(code)
            with self._boards_lock:
                if self._writes == writes:  # nothing written meanwhile: the board read is still the newest
                    self._boards[board.room.code] = (read_at, board)
            return board
        return self._read_board(code)

    def _read_board(self, code: str) -> Board:
        with self.engine.connect() as conn:
            room = self._open_room(conn, code)
            member_rows = conn.execute(sa.select(members).where(
                members.c.room_id == room.id, members.c.removed.is_(False)).order_by(members.c.joined_at)).all()
            names = {m.id: m.nickname for m in member_rows}
            run_rows = conn.execute(sa.select(runs).where(runs.c.room_id == room.id, runs.c.removed.is_(False))
                                    .order_by(runs.c.posted_at.desc(), runs.c.id.desc())).all()
            challenge_rows = conn.execute(sa.select(challenges).where(challenges.c.room_id == room.id)
                                          .order_by(challenges.c.created_at, challenges.c.id)).all()
            room_polls = self._read_polls(conn, room)
        posted = [_room_run(r, names[r.member_id]) for r in run_rows if r.member_id in names]
        counts = {m: sum(r.member_id == m for r in posted) for m in names}
        people = [Member(m.id, room.code, m.nickname, m.joined_at, runs=counts[m.id]) for m in member_rows]
        return Board(_room(room), people, posted, leaderboards(posted), [_challenge(c, posted) for c in challenge_rows],
                     room_polls)

    def export_csv(self, code: str, base_url: str | None = None) -> str:
        """Every run on the board, oldest first, one CSV row each; its link a full address on base_url
        (default: links.app_url())."""
        board = self.board(code)
        base = base_url or app_url()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["posted_at", "nickname", "stage", "model", "dataset", "val_loss", "first_loss", "predicted",
                         "params", "seconds", "link", "settings"])
        for r in reversed(board.runs):
            writer.writerow([_when(r.posted_at), _cell(r.nickname), r.stage, r.model, _cell(board.room.dataset),
                             f"{r.val_loss:.4f}", _figure(r.first_loss), _figure(r.predicted), r.params,
                             f"{r.seconds:.1f}", _cell(page_url(r.link, base)), json.dumps(r.settings, sort_keys=True)])
        return out.getvalue()

    def export_polls_csv(self, code: str, base_url: str | None = None) -> str:
        """One row per prediction, the oldest poll first: the poll, who predicted what, its result and
        how far off each prediction was (a poll nobody predicted has one row with no prediction)."""
        board = self.board(code)
        base = base_url or app_url()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["poll", "opened_at", "stage", "model", "link", "nickname", "predicted", "predicted_at",
                         "result", "params", "off_by", "closest"])
        for poll in reversed(board.polls):
            head = [poll.id, _when(poll.created_at), poll.stage, poll.model, _cell(page_url(poll.link, base))]
            closest = {p.member_id for p in poll.closest}
            for p in poll.predictions or [None]:
                guess = ["", "", ""] if p is None else [_cell(p.nickname), _figure(p.value), _when(p.made_at)]
                off = "" if p is None or poll.result is None else _figure(poll.off_by(p))
                near = "" if p is None or poll.result is None else ("yes" if p.member_id in closest else "no")
                writer.writerow(head + guess + [_figure(poll.result), "" if poll.params is None else poll.params,
                                                off, near])
        return out.getvalue()


def leaderboards(posted: list[RoomRun]) -> dict[str, list[RoomRun]]:
    """Per stage, each student's best run: the lowest val loss, a tie to fewer parameters, then to
    the earlier run."""
    best: dict[tuple[str, int], RoomRun] = {}
    for r in posted:
        key = (r.stage, r.member_id)
        if key not in best or _rank(r) < _rank(best[key]):
            best[key] = r
    boards: dict[str, list[RoomRun]] = {}
    for (stage, _), r in best.items():
        boards.setdefault(stage, []).append(r)
    return {stage: sorted(rs, key=_rank) for stage, rs in boards.items()}


def _rank(r: RoomRun):
    return (round(r.val_loss, 4), r.params, r.posted_at, r.id)


def _challenge(row, posted: list[RoomRun]) -> Challenge:
    c = Challenge(row.id, row.title, row.stage, row.model, row.target, row.max_params, row.max_seconds,
                  bool(row.smallest), row.lecture, metric=row.metric)
    met = [r for r in posted if c.met_by(r)]
    if not met:
        return c
    first = min(met, key=lambda r: (r.posted_at, r.id))
    if c.smallest:
        best = min(met, key=lambda r: (r.params, _rank(r)))
    elif c.metric == "first_loss":
        best = min(met, key=lambda r: (abs(r.first_loss - c.target), r.posted_at, r.id))
    else:
        best = min(met, key=_rank)
    return Challenge(**{**c.__dict__, "first": first, "best": best})


def _prediction(value) -> float:
    """A predicted val loss as stored: a finite number within [MIN_PREDICTION, MAX_PREDICTION]."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and limits.MIN_PREDICTION <= value <= limits.MAX_PREDICTION):
        raise RoomError(f"A prediction is a val loss from {limits.MIN_PREDICTION:g} to {limits.MAX_PREDICTION:g} "
                        "(a uniform guess on 27 characters is 3.30).")
    return float(value)


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + "Z"


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _cell(text: str) -> str:
    # a spreadsheet runs a cell that starts with = + - @ as a formula: quote it as text
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _text(check, text):
    try:
        return check(text)
    except TextError as e:
        raise RoomError(str(e)) from None


def _room(row) -> Room:
    return Room(row.code, row.title, row.created_at, bool(row.closed), row.dataset, row.fingerprint, row.words)


def _room_run(row, nickname: str) -> RoomRun:
    return RoomRun(row.id, nickname, row.member_id, row.stage, row.model, json.loads(row.settings), row.val_loss,
                   row.params, row.seconds, row.link, row.posted_at, row.first_loss, row.predicted, bool(row.removed),
                   row.removed_at)


def _engine(url: str) -> sa.Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy says when a transaction begins (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer; writers queue
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine
