"""Class rooms on every page: the room store, this session's seat in a room (a student's) or its
teacher key, what a join or teacher link brings in the address, the browser cookie that brings a
student back, the sidebar line, and posting each finished training to the room's board. The Class
room page (class_room.py) draws the rooms themselves with the parts at the end.

Nothing a browser sends becomes a score: a post is the server's own TrainResult of a training this
session ran (kit.results.add_my_run calls post_to_room). A student's token is the only thing that
posts as that student; a nickname alone gets nothing.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from makemore import limits
from makemore.data import DataError, WordDataset
from makemore.rooms import links as room_links
from makemore.rooms.text import normal_code, shown_code
from makemore.rooms.words import room_dataset
from kit.datasets_ui import load_builtin
from kit.plain_text import plain
from registry import STAGES, Stage
from training.classwork import SEAT

if TYPE_CHECKING:  # the store (SQLAlchemy, 0.3 s) is imported when a visitor first needs it: most never do
    from makemore.rooms import Board, Room, RoomRun, RoomStore

CLASS_ROOM_PAGE = "class_room.py"
COOKIE = "makemore_room"  # "CODE.TOKEN": the student's seat, for a tab opened later in this browser
TEACHING = "room_teaching"  # session_state: the Teaching of the room this session runs
SHARE = "room_share"  # the sidebar's "share my runs with the room" checkbox
NOTICE = "room_notice"  # session_state: (kind, message) for the Class room page's next run
COOKIE_TO_WRITE = "room_cookie_to_write"  # session_state: a cookie value ("" removes it) for the next sidebar
COOKIE_READ = "room_cookie_read"  # session_state: this session has looked for a returning student's cookie
LINK_CODE = "room_link_code"  # session_state: the code the address brought, to fill in the join form
LINK_HANDLED = "room_link_handled"  # session_state: the ?room= already followed to the Class room page


@dataclass(frozen=True)
class Seat:
    """A student's place in a room; the token is the student's secret (their return key)."""

    code: str
    nickname: str
    token: str
    member_id: int


@dataclass(frozen=True)
class Teaching:
    code: str
    key: str


@st.cache_resource(show_spinner=False)
def _store(url: str) -> RoomStore:
    from makemore.rooms import RoomStore

    return RoomStore(url)


def room_store() -> RoomStore:
    """The server's room store, one for every visitor: MAKEMORE_DB_URL, else the app's secrets'
    [connections.classroom] url (st.connection's convention; how Community Cloud is given a hosted
    PostgreSQL), else a SQLite file in the model cache folder."""
    from makemore.rooms import default_url

    return _store(os.environ.get("MAKEMORE_DB_URL", "").strip() or secrets_url() or default_url())


def secrets_url() -> str | None:
    try:
        url = st.secrets.get("connections", {}).get("classroom", {}).get("url")
    except Exception:  # no secrets file at all, or one that is not TOML: Streamlit says so in the log
        return None
    return url.strip() if isinstance(url, str) and url.strip() else None


def seat() -> Seat | None:
    return st.session_state.get(SEAT)


def teaching() -> Teaching | None:
    return st.session_state.get(TEACHING)


def notice(kind: str, message: str) -> None:
    """A message for the Class room page (a callback's outcome, shown on the run after it)."""
    st.session_state[NOTICE] = (kind, message)


def show_notice() -> None:
    kind, message = st.session_state.pop(NOTICE, (None, None))
    if kind == "error":
        st.error(plain(message), icon=":material/error:")
    elif kind == "success":
        st.success(plain(message), icon=":material/check_circle:")
    elif kind == "info":
        st.info(plain(message), icon=":material/info:")


# --- arriving: the address and the cookie --------------------------------------------------------

def arrive(class_room: st.Page, here: st.Page) -> None:
    """Read what the address brings (Home.py, before the page): a teacher key leaves the address bar
    at once and stays in this session; ?room=CODE opens the Class room page with the join form filled
    in. Then a returning student's cookie seats them again."""
    params = st.query_params
    code = params.get(room_links.ROOM_PARAM)
    key = params.get(room_links.TEACHER_PARAM)
    if key is not None:
        del st.query_params[room_links.TEACHER_PARAM]  # never left in an address that a projector shows
        take_teacher_key(code or "", key)
    if code is not None:
        code = normal_code(code)[:32]
        st.session_state[LINK_CODE] = code
        if st.session_state.get(LINK_HANDLED) != code and here.url_path != class_room.url_path:
            st.session_state[LINK_HANDLED] = code
            st.switch_page(class_room, query_params={room_links.ROOM_PARAM: code})
        st.session_state[LINK_HANDLED] = code
    if seat() is None and not st.session_state.get(COOKIE_READ):
        st.session_state[COOKIE_READ] = True
        returning = _cookie_seat(st.context.cookies.get(COOKIE))
        if returning is not None:
            st.session_state[SEAT] = returning


def take_teacher_key(code: str, key: str) -> bool:
    from makemore.rooms.store import NO_SUCH_ROOM

    store = room_store()
    if store.is_teacher(code, key):
        room = store.room(code)
        st.session_state[TEACHING] = Teaching(room.code, key)
        return True
    notice("error", NO_SUCH_ROOM if store.room(code) is None else "That teacher key does not open this room.")
    return False


def _cookie_seat(value: str | None) -> Seat | None:
    if not value or "." not in value or len(value) > 100:
        return None
    code, token = value.split(".", 1)
    return come_back(code, token)


def come_back(code: str, token: str) -> Seat | None:
    """The seat this return key holds in this room, or None (a wrong key, a removed student, no room)."""
    member = room_store().member(code, token)
    if member is None:
        return None
    return Seat(member.code, member.nickname, normal_code(token), member.id)


def take_seat(new: Seat) -> None:
    """Sit in a room in this session, and in a cookie for the tabs this browser opens later."""
    st.session_state[SEAT] = new
    st.session_state[COOKIE_TO_WRITE] = f"{new.code}.{new.token}"


def leave_room() -> None:
    """Leave as a student (the cookie goes too; the return key still brings the student back) and as
    the teacher (the teacher link brings them back)."""
    if st.session_state.pop(SEAT, None) is not None:
        st.session_state[COOKIE_TO_WRITE] = ""
    st.session_state.pop(TEACHING, None)
    notice("info", "You have left the room. Your runs stay on its board.")


def _write_cookie(value: str) -> None:
    # Streamlit reads cookies (st.context.cookies) but sets none: a script in the page sets it. The
    # value is the server's code and token (letters and digits only), never text a person typed.
    age = limits.ROOM_DAYS * 86400 if value else 0
    st.html(f"<script>document.cookie = '{COOKIE}={value}; path=/; max-age={age}; SameSite=Lax'"
            " + (location.protocol === 'https:' ? '; Secure' : '');</script>", unsafe_allow_javascript=True)


# --- the sidebar: which room, which nickname, the room's word list ------------------------------

def current_room() -> Room | None:
    """The room this session is in or runs, checked against the store on every run: a removed student
    or a room gone stops being shown."""
    mine = seat()
    if mine is None and teaching() is None:
        return None  # most visitors: the database is not opened for them
    store = room_store()
    if mine is not None and store.member(mine.code, mine.token) is None:
        st.session_state.pop(SEAT)
        st.session_state[COOKIE_TO_WRITE] = ""
        notice("error", "You are no longer in that room: its teacher removed you, or it has expired.")
        mine = None
    code = mine.code if mine is not None else teaching().code if teaching() is not None else None
    return store.room(code) if code is not None else None


def room_sidebar(class_room: st.Page) -> Room | None:
    """The sidebar's room line on every page (which room, which nickname, sharing, leaving); the room."""
    room = current_room()
    with st.sidebar:
        value = st.session_state.pop(COOKIE_TO_WRITE, None)
        if value is not None:
            _write_cookie(value)
        if room is None:
            return None
        st.subheader("Class room")
        st.text(f"{room.title}\nroom {shown_code(room.code)}" + (" · closed" if room.closed else ""))
        mine = seat()
        if mine is not None:
            st.text(f"You are {mine.nickname}")
            st.checkbox("Share my runs with the room", value=True, key=SHARE,
                        help="Every training you finish goes on the room's board. Untick to train on your own.")
        else:
            st.text("You are its teacher")
        left, right = st.columns(2)
        left.page_link(class_room, label="The board", icon=":material/groups:")
        right.button("Leave", on_click=leave_room, key="room_leave", icon=":material/logout:",
                     help="Leave the room in this browser. Your runs stay on its board.")
    return room


@st.cache_resource(max_entries=limits.MEMORY_DATASETS, show_spinner=False)
def _uploaded_room_words(fingerprint: str, name: str, words: str) -> WordDataset:
    return room_dataset(name, fingerprint, words)


def room_words(room: Room) -> WordDataset:
    """The room's word list as a dataset; DataError when this server cannot give those exact words."""
    if room.words is None:
        try:
            dataset = load_builtin(room.dataset)
        except (OSError, DataError):
            raise DataError(f"This room trains on {room.dataset}, which this server does not have.") from None
        if dataset.fingerprint != room.fingerprint:
            raise DataError(f"This room's list {room.dataset} has changed since the room was opened.")
        return dataset
    return _uploaded_room_words(room.fingerprint, room.dataset, room.words)


# --- posting a finished training ---------------------------------------------------------------

def stage_of(model_name: str) -> Stage | None:
    return next((s for s in STAGES if model_name in s.models), None)


def stage_id(stage: Stage) -> str:
    return Path(stage.page).stem  # "mlp": what the board stores for the stage


STAGE_TITLES = {stage_id(s): s.title for s in STAGES}


def run_page_link(model_name: str, model_config, train_config) -> str:
    """The page and query that reopen this setting ("stages/mlp.py?mlp_hidden=64"); the page alone
    when its widgets cannot set it."""
    from kit.links import run_link  # imported here, with the runs: they bring torch (a trained run has it loaded)
    from makemore.runs import Run as RunSpec

    stage = stage_of(model_name)
    try:
        link = run_link(RunSpec(model_name, model_config, train_config))
    except ValueError:
        return stage.page if stage is not None else ""
    return f"{link.page}?{link.query}" if link.query else link.page


def post_to_room(run) -> None:
    """Post a training this session just finished (a kit.results.Run) to its room's board: when it is
    in a room, shares its runs, and trained on the room's words."""
    mine = seat()
    stage = stage_of(run.model_name)
    if mine is None or stage is None or not st.session_state.get(SHARE, True):
        return
    store = room_store()
    room = store.room(mine.code)
    if room is None or room.fingerprint != run.fingerprint:
        return
    from makemore.rooms import PostedRun, RoomError
    from makemore.runs import Run as RunSpec

    spec = RunSpec(run.model_name, run.model_config, run.train_config)
    posted = PostedRun(stage=stage_id(stage), model=run.model_name, run_key=run.ident, settings=spec.to_dict(),
                       fingerprint=run.fingerprint, val_loss=run.result.val_loss, params=run.result.params,
                       seconds=run.result.seconds, link=run_page_link(run.model_name, run.model_config,
                                                                       run.train_config))
    try:
        if store.post_run(mine.code, mine.token, posted):
            st.toast("Posted to your class room's board.", icon=":material/groups:")
    except RoomError as e:
        st.toast(plain(e), icon=":material/warning:")


# --- the parts of the Class room page ------------------------------------------------------------

def app_address() -> str:
    """The address students open: MAKEMORE_APP_URL when set, else the address this browser uses."""
    url = st.context.url
    if room_links.app_url() != room_links.DEFAULT_APP_URL or not url:
        return room_links.app_url()
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def join_url(code: str) -> str:
    return room_links.join_url(code, app_address())


def teacher_url(code: str, key: str) -> str:
    return room_links.teacher_url(code, key, app_address())


def page_url(link: str) -> str:
    """A posted run's link as an address: "stages/mlp.py?…" -> "http://host/mlp?…"."""
    page, _, query = link.partition("?")
    return f"{app_address()}/{Path(page).stem}" + (f"?{query}" if query else "")


@st.cache_data(max_entries=256, show_spinner=False)
def qr_png(url: str) -> bytes:
    """The join link as a QR code, a PNG big enough for the back row to read off a projector."""
    import qrcode  # only the teacher's page draws one

    code = qrcode.QRCode(box_size=12, border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()


def settings_text(settings: dict) -> str:
    """A posted run's settings in a line: "n_hidden 200 · block_size 3 · 4,000 steps · lr 0.1 · seed 42"."""
    config = " · ".join(f"{k} {v}" for k, v in settings.get("config", {}).items())
    training = settings.get("training", {})
    steps = training.get("max_steps")
    rest = [f"{steps:,} steps" if isinstance(steps, int) else None,
            f"lr {training['lr']:g}" if isinstance(training.get("lr"), (int, float)) else None,
            f"seed {training['seed']}" if isinstance(training.get("seed"), int) else None]
    return " · ".join(p for p in [config, *rest] if p)


def local_times(seconds: pd.Series) -> pd.Series:
    zone = st.context.timezone or "UTC"
    try:
        return pd.to_datetime(seconds, unit="s", utc=True).dt.tz_convert(zone).dt.tz_localize(None)
    except (KeyError, ValueError):  # a zone name this machine does not know (its errors are KeyErrors): UTC
        return pd.to_datetime(seconds, unit="s")


RUN_COLUMNS = ["posted", "nickname", "stage", "model", "val loss", "params", "seconds", "settings", "open"]


def runs_frame(runs: list[RoomRun]) -> pd.DataFrame:
    frame = pd.DataFrame([{
        "posted": r.posted_at, "nickname": r.nickname, "stage": STAGE_TITLES.get(r.stage, r.stage), "model": r.model,
        "val loss": round(r.val_loss, 4), "params": r.params, "seconds": round(r.seconds, 1),
        "settings": settings_text(r.settings), "open": page_url(r.link), "id": r.id,
    } for r in runs], columns=[*RUN_COLUMNS, "id"])
    frame["posted"] = local_times(frame["posted"])
    return frame


RUN_TABLE = {
    "posted": st.column_config.DatetimeColumn("posted", format="HH:mm:ss"),
    "val loss": st.column_config.NumberColumn("val loss", format="%.4f"),
    "params": st.column_config.NumberColumn("params", format="localized"),
    "open": st.column_config.LinkColumn("open", display_text="open this setting",
                                        help="Opens the page with these settings: it trains, or finds, the same run."),
}


def show_runs_table(frame: pd.DataFrame, height: int | str = "auto") -> None:
    st.dataframe(frame[RUN_COLUMNS], column_config=RUN_TABLE, hide_index=True, height=height, width="stretch")


def leaderboards(board: Board) -> None:
    """Each stage's leaderboard: every student's best run there (ties go to fewer parameters)."""
    stages = [stage_id(s) for s in STAGES if stage_id(s) in board.leaderboards]
    if not stages:
        st.info("No runs yet. Every training a member finishes on a stage's page appears here.",
                icon=":material/hourglass_empty:")
        return
    for tab, stage in zip(st.tabs([STAGE_TITLES[s] for s in stages]), stages):
        frame = runs_frame(board.leaderboards[stage])
        frame.insert(0, "rank", range(1, len(frame) + 1))
        with tab:
            st.dataframe(frame[["rank", *[c for c in RUN_COLUMNS if c not in ("posted", "stage")]]],
                         column_config=RUN_TABLE, hide_index=True, width="stretch")


def challenges_frame(board: Board) -> pd.DataFrame:
    rows = []
    for c in board.challenges:
        limits_text = " · ".join(p for p in [
            STAGE_TITLES.get(c.stage, c.stage) if c.stage else None, c.model,
            f"at most {c.max_params:,} params" if c.max_params else None,
            f"at most {c.max_seconds:g} s" if c.max_seconds else None,
            "fewest parameters wins" if c.smallest else None] if p)
        rows.append({
            "challenge": c.title, "beat val": c.target, "rules": limits_text or "any run",
            "first met by": c.first.nickname if c.first else "—",
            "when": c.first.posted_at if c.first else None,
            "best": (f"{c.best.nickname}: {c.best.val_loss:.4f}, {c.best.params:,} params" if c.best else "—"),
            "id": c.id,
        })
    frame = pd.DataFrame(rows, columns=["challenge", "beat val", "rules", "first met by", "when", "best", "id"])
    frame["when"] = [t.strftime("%H:%M:%S") if pd.notna(t) else "—" for t in local_times(frame["when"])]
    return frame


def show_challenges(board: Board) -> None:
    frame = challenges_frame(board)
    if frame.empty:
        st.caption("No challenges in this room yet.")
        return
    met = int((frame["first met by"] != "—").sum())
    st.caption(f"{met} of {len(frame)} met so far.")
    st.dataframe(frame.drop(columns=["id"]), hide_index=True, width="stretch", column_config={
        "beat val": st.column_config.NumberColumn("beat val", format="%.3f"),
    })
