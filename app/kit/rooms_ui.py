"""Class rooms on every page: the room store, this session's seat in a room (a student's) or its
teacher key, what a join or teacher link brings in the address, the browser cookie that brings a
student back, the sidebar line, and posting each finished training to the room's board. The Class
room page (class_room.py) draws the rooms themselves with the parts at the end.

Nothing a browser sends becomes a score: a post is the server's own TrainResult of a training this
session ran (kit.results.add_my_run calls post_to_room). A student's token is the only thing that
posts as that student; a nickname alone gets nothing.
"""

from __future__ import annotations

import html
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
SHARE_CHOICE = "room_share_choice"  # session_state: that choice, kept while the room is closed
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
            if room.closed:  # nothing is posted any more: the box is greyed, and says why
                # the student's own choice is kept for a room that opens again (an unrendered widget's is dropped)
                st.session_state[SHARE_CHOICE] = st.session_state.get(SHARE, st.session_state.get(SHARE_CHOICE, True))
                st.checkbox("Share my runs with the room: the room is closed", value=False, disabled=True,
                            key="room_share_closed", help="Its teacher has ended the room: no run is posted now.")
            else:
                st.checkbox("Share my runs with the room", value=st.session_state.get(SHARE_CHOICE, True), key=SHARE,
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


STOPPED_NOT_POSTED = ("Stopped trainings are not posted to the class room's board: train the full run to "
                      "post it.")
CLOSED_NOT_POSTED = "Not posted to the class room's board: the room is closed (its teacher has ended it)."
POST_NOTES = "room_post_notes"  # session_state: run key -> why its training was not posted, while it is shown
MAX_POST_NOTES = 20
PREDICTIONS = "room_predictions"  # session_state: run key -> the student's prediction (kit.polls_ui fills it)


def post_to_room(run) -> str | None:
    """Post a training this session just finished (a kit.results.Run) to its room's board: when it is
    in a room, shares its runs, trained on the room's words and trained to its last step. Returns
    why it was not posted, for the page to say beside the result (None: posted, or nothing to say:
    not in a room, sharing off, other words, which the sidebar says)."""
    mine = seat()
    stage = stage_of(run.model_name)
    if mine is None or stage is None or not st.session_state.get(SHARE, True):
        return None
    if run.result.stopped_early or run.result.steps != run.train_config.max_steps:
        return STOPPED_NOT_POSTED  # never on the board under settings it did not finish
    store = room_store()
    room = store.room(mine.code)
    if room is None or room.fingerprint != run.fingerprint:
        return None
    if room.closed:
        return CLOSED_NOT_POSTED
    from makemore.rooms import PostedRun, RoomError
    from makemore.runs import Run as RunSpec

    spec = RunSpec(run.model_name, run.model_config, run.train_config)
    run_key = run.ident.rsplit("@", 1)[0]  # the cache key, as a poll and the student's prediction name it
    history = run.result.loss_history
    posted = PostedRun(stage=stage_id(stage), model=run.model_name, run_key=run.ident, settings=spec.to_dict(),
                       fingerprint=run.fingerprint, val_loss=run.result.val_loss, params=run.result.params,
                       seconds=run.result.seconds, link=run_page_link(run.model_name, run.model_config,
                                                                       run.train_config),
                       steps=run.result.steps, first_loss=history[0] if history else None,
                       predicted=st.session_state.get(PREDICTIONS, {}).get(run_key))
    try:
        if store.post_run(mine.code, mine.token, posted):
            st.toast("Posted to your class room's board.", icon=":material/groups:")
    except RoomError as e:
        return f"Not posted to the class room's board. {e}"
    return None


def note_post(key: str, why: str | None) -> None:
    """Keep why this training was not posted, to say it on every run of the page that shows it."""
    notes = st.session_state.setdefault(POST_NOTES, {})
    notes.pop(key, None)
    if why:
        notes[key] = why
        for old in list(notes)[:-MAX_POST_NOTES]:
            del notes[old]


def show_post_note(key: str) -> None:
    """Where the result is shown: why this training is not on the room's board (a stopped one, a closed room)."""
    why = st.session_state.get(POST_NOTES, {}).get(key)
    if why:
        st.info(plain(why), icon=":material/groups:")


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
    return room_links.page_url(link, app_address())


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
# the stages a run or a challenge can be on: Backprop trains nothing, so it has no runs to rank
TRAINING_STAGES = [stage_id(s) for s in STAGES if s.models]


def runs_word(count: int) -> str:
    return f"{count:,} run" + ("" if count == 1 else "s")


def target_text(value: float) -> str:
    """A target with the digits it needs (2.1057, 2.2, 3): up to 4 decimals, no trailing zeros."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def runs_frame(runs: list[RoomRun]) -> pd.DataFrame:
    """One row per run, the stage by its title (as every page names it); `predicted` is the
    student's own prediction noted before Train, `removed` whether the teacher took it off the board."""
    frame = pd.DataFrame([{
        "posted": r.posted_at, "nickname": r.nickname, "stage": STAGE_TITLES.get(r.stage, r.stage), "model": r.model,
        "val loss": round(r.val_loss, 4), "params": r.params, "seconds": round(r.seconds, 1),
        "settings": settings_text(r.settings), "open": page_url(r.link), "id": r.id,
        "predicted": r.predicted, "removed": r.removed,
    } for r in runs], columns=[*RUN_COLUMNS, "id", "predicted", "removed"])
    frame["posted"] = local_times(frame["posted"])
    return frame


RUN_TABLE = {
    "posted": st.column_config.DatetimeColumn("posted", format="HH:mm:ss"),
    "val loss": st.column_config.NumberColumn("val loss", format="%.4f"),
    "predicted": st.column_config.NumberColumn("predicted", format="%.2f",
                                               help="The val loss its student predicted before pressing Train."),
    "params": st.column_config.NumberColumn("params", format="localized"),
    "open": st.column_config.LinkColumn("open", display_text="open this setting",
                                        help="Opens the page with these settings: it trains, or finds, the same run."),
}


def run_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns to show; the students' predictions beside the val loss when any was noted."""
    if frame["predicted"].notna().any():
        at = columns.index("val loss") + 1
        columns = [*columns[:at], "predicted", *columns[at:]]
    return columns


def show_runs_table(frame: pd.DataFrame, height: int | str = "auto", removed_note: bool = False) -> None:
    """The runs in a table; with removed_note (a student's own runs) a column says which runs the
    teacher took off the board."""
    columns = run_columns(frame, RUN_COLUMNS)
    if removed_note:
        frame = frame.assign(board=["removed by the teacher" if r else "on the board" for r in frame["removed"]])
        columns = [*columns, "board"]
    st.dataframe(frame[columns], column_config=RUN_TABLE, hide_index=True, height=height, width="stretch")


def leaderboards(board: Board) -> None:
    """Each stage's leaderboard: every student's best run there (ties go to fewer parameters)."""
    stages = [s for s in TRAINING_STAGES if s in board.leaderboards]
    if not stages:
        st.info("No runs yet. Every training a member finishes on a stage's page appears here.",
                icon=":material/hourglass_empty:")
        return
    for tab, stage in zip(st.tabs([STAGE_TITLES[s] for s in stages]), stages):
        frame = runs_frame(board.leaderboards[stage])
        frame.insert(0, "rank", range(1, len(frame) + 1))
        with tab:
            st.dataframe(frame[run_columns(frame, ["rank", *[c for c in RUN_COLUMNS if c not in ("posted", "stage")]])],
                         column_config=RUN_TABLE, hide_index=True, width="stretch")


def challenge_rules(c) -> str:
    stage = next((s for s in STAGES if stage_id(s) == c.stage), None)
    # a model is named only where its page trains more than one (the Transformer page's bow and transformer)
    model = f"model {c.model}" if c.model and (stage is None or len(stage.models) > 1) else None
    return " · ".join(p for p in [
        STAGE_TITLES.get(c.stage, c.stage) if c.stage else None, model,
        f"at most {c.max_params:,} params" if c.max_params else None,
        f"at most {c.max_seconds:g} s" if c.max_seconds else None,
        "fewest parameters wins" if c.smallest else None] if p) or "any run"


def challenge_target(c) -> str:
    from makemore.rooms.store import FIRST_LOSS_TOLERANCE  # the store is loaded: the board came from it

    if c.metric == "first_loss":
        return f"loss at step 1 within {FIRST_LOSS_TOLERANCE:g} of {target_text(c.target)}"
    return f"val under {target_text(c.target)}"


def challenge_best(c) -> str:
    if c.best is None:
        return "—"
    if c.metric == "first_loss" and c.best.first_loss is not None:
        return f"{c.best.nickname}: first loss {c.best.first_loss:.4f}"
    return f"{c.best.nickname}: {c.best.val_loss:.4f}, {c.best.params:,} params"


def challenges_frame(board: Board) -> pd.DataFrame:
    rows = [{"challenge": c.title, "target": challenge_target(c), "rules": challenge_rules(c),
             "first met by": c.first.nickname if c.first else "—",
             "when": c.first.posted_at if c.first else None, "best": challenge_best(c), "id": c.id}
            for c in board.challenges]
    frame = pd.DataFrame(rows, columns=["challenge", "target", "rules", "first met by", "when", "best", "id"])
    frame["when"] = [t.strftime("%H:%M:%S") if pd.notna(t) else "—" for t in local_times(frame["when"])]
    return frame


def show_challenges(board: Board) -> None:
    frame = challenges_frame(board)
    if frame.empty:
        st.caption("No challenges in this room yet.")
        return
    met = int((frame["first met by"] != "—").sum())
    st.caption(f"{met} of {len(frame)} met so far.")
    st.dataframe(frame.drop(columns=["id"]), hide_index=True, width="stretch")


# --- the projector: what the back row reads, in real HTML tables that wrap instead of clipping ------

PROJECTOR_ROWS = 5  # of each stage's leaderboard
PROJECTOR_SETTINGS_CHARS = 40
# Only in the projector view: no sidebar (nor its open button), the page's full width, large type.
# Tables are laid out to the width they have (table-layout: fixed) and wrap long cells.
PROJECTOR_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"]
  { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 100% !important; padding: 1.5rem 2rem 2rem !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li { font-size: 1.25rem; }
table.projector { width: 100%; table-layout: fixed; border-collapse: collapse; font-size: 1.35rem; }
table.projector th, table.projector td { text-align: left; padding: 0.3rem 0.5rem; vertical-align: top;
  overflow-wrap: anywhere; border-bottom: 1px solid rgba(128, 128, 128, 0.35); }
table.projector th { font-weight: 700; }
</style>"""


def projector_style() -> None:
    st.html(PROJECTOR_CSS)


def html_table(frame: pd.DataFrame, widths: list[int]) -> str:
    """A small table as HTML, every cell escaped (nicknames and titles are typed by people);
    widths: each column's share of the width, in per cent."""
    cols = "".join(f'<col style="width: {w}%">' for w in widths)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return (f'<table class="projector"><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def shortened(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip(" ·") + "…"


def projector_leaderboards(board: Board) -> None:
    """Every stage's leaderboard at once (no tabs: nobody clicks a projector), its first rows."""
    stages = [s for s in TRAINING_STAGES if s in board.leaderboards]
    if not stages:
        st.markdown("No runs yet. Every training a member finishes on a stage's page appears here.")
        return
    for stage in stages:
        ranked = board.leaderboards[stage]
        st.markdown(f"**{STAGE_TITLES[stage]}** · {len(ranked)} " + ("student" if len(ranked) == 1 else "students"))
        frame = pd.DataFrame([{
            "rank": i, "nickname": r.nickname, "val loss": f"{r.val_loss:.4f}", "params": f"{r.params:,}",
            "settings": shortened(settings_text(r.settings), PROJECTOR_SETTINGS_CHARS),
        } for i, r in enumerate(ranked[:PROJECTOR_ROWS], start=1)])
        st.html(html_table(frame, [8, 24, 15, 14, 39]))


def projector_challenges(board: Board) -> None:
    frame = challenges_frame(board)
    if frame.empty:
        st.markdown("No challenges in this room yet.")
        return
    # a lecture's title says its rules; a teacher's own gets them beside it
    own = [not c.lecture for c in board.challenges]
    shown = frame.assign(challenge=[f"{t} ({r})" if mine and r != "any run" else t
                                    for t, r, mine in zip(frame["challenge"], frame["rules"], own)])
    st.html(html_table(shown[["challenge", "target", "first met by", "best"]], [44, 18, 15, 23]))
