"""Rooms, their members and their runs, in SQL through SQLAlchemy.

By default a SQLite file in the model cache folder (WAL mode: many students posting at once wait
for each other instead of failing); any SQLAlchemy URL from MAKEMORE_DB_URL (or passed in) for a
school's PostgreSQL server. The schema is created on first use and carries its version, so that a
later version of the app upgrades a database in place without losing a room (MIGRATIONS).

Keys are never stored, only their SHA-256, and a key is checked in constant time. A score on the
board is only ever what the server posts for a run it trained (PostedRun): nothing here takes a
number from a browser.
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
from makemore.rooms.text import (
    TextError,
    checked_nickname,
    checked_title,
    new_code,
    new_key,
    nickname_key,
    normal_code,
)

SCHEMA_VERSION = 2
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
    sa.Column("target", sa.Float, nullable=False),  # val loss to beat
    sa.Column("max_params", sa.Integer, nullable=True),
    sa.Column("max_seconds", sa.Float, nullable=True),
    sa.Column("smallest", sa.Boolean, nullable=False, default=False),  # its best is the fewest parameters
    sa.Column("created_at", sa.Float, nullable=False),
)

MIGRATIONS = {  # version -> what brings a database from the version before to it
    1: lambda conn: [t.create(conn, checkfirst=True) for t in (rooms, members, runs)],
    2: lambda conn: challenges.create(conn, checkfirst=True),
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
    best: RoomRun | None = None  # the lowest loss (or, for `smallest`, the fewest parameters) that met it

    def met_by(self, run: RoomRun) -> bool:
        return ((self.stage is None or run.stage == self.stage) and (self.model is None or run.model == self.model)
                and run.val_loss < self.target
                and (self.max_params is None or run.params <= self.max_params)
                and (self.max_seconds is None or run.seconds <= self.max_seconds))


@dataclass(frozen=True)
class Board:
    room: Room
    members: list[Member]
    runs: list[RoomRun]  # newest first
    leaderboards: dict[str, list[RoomRun]] = field(default_factory=dict)  # stage -> each member's best, best first
    challenges: list[Challenge] = field(default_factory=list)


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

    def _room_row(self, conn, code):
        if not isinstance(code, str) or len(code) > 32:
            return None
        row = conn.execute(sa.select(rooms).where(rooms.c.code == normal_code(code))).first()
        if row is None or row.created_at + limits.ROOM_DAYS * 86400 < self.clock():
            return None
        return row

    def _open_room(self, conn, code):
        row = self._room_row(conn, code)
        if row is None:
            raise RoomError(NO_SUCH_ROOM)
        return row

    def is_teacher(self, code: str, key: str) -> bool:
        with self.engine.connect() as conn:
            row = self._room_row(conn, code)
        # compared even when there is no room, so that the time taken does not tell which codes exist
        return _same_secret(key, row.teacher_key_hash if row is not None else _hash("")) and row is not None

    def _teacher_room(self, conn, code: str, key: str):
        row = self._open_room(conn, code)
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
                row = self._open_room(conn, code)
                if row.closed:
                    raise RoomError("This room is closed: its teacher has ended it.")
                count = conn.execute(sa.select(sa.func.count()).select_from(members).where(
                    members.c.room_id == row.id)).scalar_one()
                if count >= limits.MAX_MEMBERS:
                    raise RoomError(f"This room has {limits.MAX_MEMBERS} members, its most.")
                taken = conn.execute(sa.select(members.c.id).where(
                    members.c.room_id == row.id, members.c.nickname_key == nickname_key(nickname))).first()
                if taken is not None:
                    raise RoomError(f"Somebody in this room is already called {nickname!r}: pick another nickname "
                                    "(or, if it is you, use your return key).")
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
        """The member's runs leave the board and their key stops working; the nickname stays taken."""
        with self._write() as conn:
            row = self._teacher_room(conn, code, key)
            conn.execute(members.update().where(members.c.id == member_id, members.c.room_id == row.id)
                         .values(removed=True))

    # --- runs -------------------------------------------------------------------------------------
    def post_run(self, code: str, token: str, run: PostedRun) -> bool:
        """Put a finished training on the room's board. False when it is already there (the same
        student, the same run); RoomError when it cannot be posted (closed room, other words, …)."""
        values = [run.val_loss, run.seconds]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise RoomError("Only a finished training with a finite loss is posted.")
        now = self.clock()
        try:
            with self._write() as conn:
                room = self._open_room(conn, code)
                me = conn.execute(sa.select(members).where(
                    members.c.token_hash == _hash(normal_code(token)) if isinstance(token, str) else sa.false(),
                    members.c.room_id == room.id)).first()
                if me is None or me.removed or not _same_secret(normal_code(token), me.token_hash):
                    raise RoomError("You are not a member of this room.")
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
                    params=int(run.params), seconds=float(run.seconds), link=run.link, posted_at=now, removed=False))
        except IntegrityError:  # the same run posted twice at the same moment
            return False
        return True

    def remove_run(self, code: str, key: str, run_id: int) -> None:
        with self._write() as conn:
            row = self._teacher_room(conn, code, key)
            conn.execute(runs.update().where(runs.c.id == run_id, runs.c.room_id == row.id).values(removed=True))

    def my_runs(self, code: str, token: str) -> list[RoomRun]:
        me = self.member(code, token)
        return [] if me is None else [r for r in self.board(code).runs if r.member_id == me.id]

    # --- challenges -------------------------------------------------------------------------------
    def add_challenge(self, code: str, key: str, title: str, target: float, stage: str | None = None,
                      model: str | None = None, max_params: int | None = None, max_seconds: float | None = None,
                      smallest: bool = False, lecture: str | None = None) -> int:
        title = _text(checked_title, title)
        if not (isinstance(target, (int, float)) and 0 < target < 100):
            raise RoomError("A challenge's val loss to beat is a number above 0 (a uniform guess on 27 characters "
                            "is 3.30).")
        if max_params is not None and not (isinstance(max_params, int) and max_params >= 1):
            raise RoomError("A challenge's most parameters is a whole number of at least 1.")
        if max_seconds is not None and not (isinstance(max_seconds, (int, float)) and max_seconds > 0):
            raise RoomError("A challenge's most seconds is a number above 0.")
        with self._write() as conn:
            row = self._teacher_room(conn, code, key)
            existing = conn.execute(sa.select(challenges.c.lecture).where(challenges.c.room_id == row.id)).all()
            if lecture is not None and (lecture,) in existing:
                raise RoomError("That challenge is already on in this room.")
            if len(existing) >= limits.MAX_CHALLENGES:
                raise RoomError(f"A room holds at most {limits.MAX_CHALLENGES} challenges.")
            return conn.execute(challenges.insert().values(
                room_id=row.id, lecture=lecture, title=title, stage=stage, model=model, target=float(target),
                max_params=max_params, max_seconds=max_seconds, smallest=smallest,
                created_at=self.clock())).inserted_primary_key[0]

    def add_lecture_challenge(self, code: str, key: str, name: str) -> int:
        """Switch on one of the lectures' exercises (challenges.LECTURE), only in a room on the lectures' list."""
        exercise = lecture_challenges.LECTURE.get(name)
        if exercise is None:
            raise RoomError(f"There is no lecture challenge {name!r}.")
        room = self.room(code)
        if room is not None and room.fingerprint != lecture_challenges.lecture_fingerprint():
            raise RoomError("The lectures' figures were measured on the lectures' list (names): a room on other "
                            "words can set challenges of its own.")
        return self.add_challenge(code, key, exercise.title, exercise.target, model=exercise.model,
                                  smallest=exercise.smallest, lecture=name)

    def remove_challenge(self, code: str, key: str, challenge_id: int) -> None:
        with self._write() as conn:
            row = self._teacher_room(conn, code, key)
            conn.execute(challenges.delete().where(challenges.c.id == challenge_id, challenges.c.room_id == row.id))

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
        posted = [_room_run(r, names[r.member_id]) for r in run_rows if r.member_id in names]
        counts = {m: sum(r.member_id == m for r in posted) for m in names}
        people = [Member(m.id, room.code, m.nickname, m.joined_at, runs=counts[m.id]) for m in member_rows]
        return Board(_room(room), people, posted, leaderboards(posted), [_challenge(c, posted) for c in challenge_rows])

    def export_csv(self, code: str) -> str:
        """Every run on the board, oldest first, one CSV row each."""
        board = self.board(code)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["posted_at", "nickname", "stage", "model", "dataset", "val_loss", "params", "seconds",
                         "link", "settings"])
        for r in reversed(board.runs):
            writer.writerow([time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(r.posted_at)) + "Z", _cell(r.nickname),
                             r.stage, r.model, _cell(board.room.dataset), f"{r.val_loss:.4f}", r.params,
                             f"{r.seconds:.1f}", r.link, json.dumps(r.settings, sort_keys=True)])
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
                  bool(row.smallest), row.lecture)
    met = [r for r in posted if c.met_by(r)]
    if not met:
        return c
    first = min(met, key=lambda r: (r.posted_at, r.id))
    best = min(met, key=(lambda r: (r.params, _rank(r))) if c.smallest else _rank)
    return Challenge(**{**c.__dict__, "first": first, "best": best})


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
                   row.params, row.seconds, row.link, row.posted_at)


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
