"""Class room: a teacher opens a room, the class joins it with a code, a link or a QR code, and every
training a member finishes on any page lands on the room's board: a leaderboard per stage, every run
on one chart, the challenges and who met them first. The teacher's view (the teacher key only) picks
the room's word list, sees what the class is training, removes a run or a member, closes the room
and downloads every run. The rooms themselves live in makemore.rooms; kit/rooms_ui.py draws them."""

import pandas as pd
import streamlit as st

import charts
from kit import polls_ui
from kit import rooms_ui as rooms
from kit.datasets_ui import builtin_files, current_dataset, label, load_builtin, load_upload
from kit.plain_text import plain
from makemore import limits
from makemore.data import DataError
from makemore.rooms import RoomError
from makemore.rooms import challenges as lecture
from makemore.rooms import links as room_links
from makemore.rooms.store import NO_SUCH_ROOM
from makemore.rooms.text import shown_code
from makemore.rooms.words import room_list
from training.classwork import SEAT, class_trainings
from training.shared import job_board

NEW_TEACHER_KEY = "room_new_teacher_key"  # session_state: a room just opened, its teacher link not yet put away
JUST_JOINED = "room_just_joined"  # session_state: show the return key open, once, right after joining
BOARD_SECONDS = 5  # how often an open board redraws itself
# one read of a room's board serves all its viewers for this long (a post or a teacher's change on
# this server shows at once); every open board is within a few seconds of the class
SHARED_BOARD_SECONDS = 3
STAGE_NAMES = rooms.TRAINING_STAGES  # Backprop trains nothing: no runs, no challenge
STAGE_TITLES = [rooms.STAGE_TITLES[s] for s in STAGE_NAMES]
UNDO = "room_undo"  # session_state: the teacher's last removal ("run" or "member", its id, what it was)

store = rooms.room_store()


# --- what the buttons do (callbacks: they run before the page, so the sidebar shows their outcome) ---

def join() -> None:
    try:
        member = store.join(st.session_state["join_code"], st.session_state["join_nickname"])
    except RoomError as e:
        rooms.notice("error", str(e))
        return
    st.session_state.pop(rooms.TEACHING, None)
    rooms.take_seat(rooms.Seat(member.code, member.nickname, member.token, member.id))
    st.session_state[JUST_JOINED] = True
    rooms.notice("success", f"Welcome, {member.nickname}. Every training you finish on any page now goes on "
                 "the room's board.")


def come_back() -> None:
    code, key = st.session_state["back_code"], st.session_state["back_key"]
    returning = rooms.come_back(code, key)
    if returning is None:
        rooms.notice("error", NO_SUCH_ROOM if store.room(code) is None
                     else "That return key does not belong to anyone in this room.")
        return
    st.session_state.pop(rooms.TEACHING, None)
    rooms.take_seat(returning)
    rooms.notice("success", f"Welcome back, {returning.nickname}.")


def open_room() -> None:
    try:
        opened = store.create_room(st.session_state["open_title"], *room_list(current_dataset()))
    except RoomError as e:
        rooms.notice("error", str(e))
        return
    if st.session_state.pop(SEAT, None) is not None:  # a teacher is not also a student of a room
        st.session_state[rooms.COOKIE_TO_WRITE] = ""
    st.session_state[rooms.TEACHING] = rooms.Teaching(opened.code, opened.teacher_key)
    st.session_state[NEW_TEACHER_KEY] = opened.teacher_key


def teach_again() -> None:
    rooms.take_teacher_key(st.session_state["teach_code"], st.session_state["teach_key"])


def as_teacher(action, success: str | None = None):
    """A teacher's button: the store checks the key on every change; its refusal is shown as it says."""
    def act(*args):
        me = rooms.teaching()
        try:
            action(me.code, me.key, *args)
        except RoomError as e:
            rooms.notice("error", str(e))
            return
        if success:  # a toast: said once, after the action, not left standing on the page for the lesson
            st.toast(success, icon=":material/check_circle:")
    return act


# --- the board, for everyone in the room ----------------------------------------------------------

@st.fragment(run_every=BOARD_SECONDS)  # a projector's board follows the class without anyone touching it
def live_board(code: str, me: "rooms.Seat | None", projector: bool = False) -> None:
    try:
        board = store.board(code, max_age=SHARED_BOARD_SECONDS)
    except RoomError as e:
        st.error(plain(e), icon=":material/error:")
        return
    if projector:
        projector_board(board)
        return
    frame = rooms.runs_frame(board.runs)
    met = sum(c.first is not None for c in board.challenges)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("members", len(board.members))
    c2.metric("runs", len(board.runs))
    c3.metric("best val loss", f"{frame['val loss'].min():.4f}" if len(frame) else "—")
    c4.metric("challenges met", f"{met} of {len(board.challenges)}" if board.challenges else "—")
    if board.room.closed:
        st.warning("This room is closed: its teacher has ended it, so new runs are not posted. The board stays.",
                   icon=":material/lock:")
    st.subheader("Leaderboards")
    st.caption("Each student's best run on each stage: the lowest val loss, a tie going to fewer parameters.")
    rooms.leaderboards(board)
    if len(frame):
        st.altair_chart(charts.room_runs(frame, STAGE_TITLES), width="stretch")
    polls_ui.predictions_section(board, me)  # "predict, then train": each poll, a student's form while it is open
    st.subheader("Challenges")
    rooms.show_challenges(board)
    st.subheader("Newest runs")
    if len(frame):
        rooms.show_runs_table(frame.head(15))
    else:
        st.caption("None yet.")
    if me is not None:
        st.subheader("Your runs")
        yours = store.my_runs(me.code, me.token)  # with those the teacher removed, marked so
        if yours:
            rooms.show_runs_table(rooms.runs_frame(yours), removed_note=True)
        else:
            st.caption("None yet: train a model on any stage's page and it appears here and on the board.")


def projector_board(board) -> None:
    """The board for a projector: what the class reads from the back row, nothing to click, no
    table that clips (kit.rooms_ui's HTML tables wrap), every stage's leaderboard at once."""
    frame = rooms.runs_frame(board.runs)
    met = sum(c.first is not None for c in board.challenges)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("members", len(board.members))
    c2.metric("runs", len(board.runs))
    c3.metric("best val loss", f"{frame['val loss'].min():.4f}" if len(frame) else "—")
    c4.metric("challenges met", f"{met} of {len(board.challenges)}" if board.challenges else "—")
    if board.room.closed:
        st.markdown("**This room is closed.** The board stays.")
    st.subheader("Leaderboards")
    rooms.projector_leaderboards(board)
    if len(frame):
        # its own large type: Streamlit's theme would set the axes' small one
        st.altair_chart(charts.room_runs(frame, STAGE_TITLES, big=True), width="stretch", theme=None)
    polls_ui.predictions_section(board, None)  # the class's polls, as on the board
    st.subheader("Challenges")
    rooms.projector_challenges(board)


def share_panel(room, projector: bool = False) -> None:
    """The room's code, join link and QR code, big enough for a projector; taken down while the
    room is closed. The teacher (not the class) is told when the address cannot reach the class."""
    if room.closed:
        st.info("The room is closed: its code, join link and QR code are down. Reopen it under *The room* to let "
                "students join again.", icon=":material/lock:")
        return
    code = room.code
    url = rooms.join_url(code)
    unreachable = room_links.local_only(rooms.app_address())
    if unreachable and not projector:
        st.warning(f"**Students cannot open this link.** {plain(unreachable)} Start the server with "
                   "`--server.address 0.0.0.0` and open this page at the server's address on the network (such as "
                   "`http://192.168.1.20:8501`), or set `MAKEMORE_APP_URL` to that address; the link and the QR "
                   "code follow.", icon=":material/wifi_off:")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("Join at the address below, or scan the code, and pick a nickname. The room's code is")
        st.title(shown_code(code), anchor=False)  # the server's code: letters and digits only
        st.code(url, language=None)
    right.image(rooms.qr_png(url), caption="Scan to join", width=260)


# --- the teacher's view ---------------------------------------------------------------------------

def teacher_link_once(code: str) -> None:
    key = st.session_state.get(NEW_TEACHER_KEY)
    if key is None:
        return
    with st.container(border=True):
        st.warning("**Your teacher link, shown only now.** Keep it private: whoever opens it runs this room (its "
                   "word list, its members, its runs). Save it somewhere only you can see; it is not shown again.",
                   icon=":material/key:")
        st.code(rooms.teacher_url(code, key), language=None)
        st.button("I have kept it safe", key="room_key_kept", icon=":material/check:",
                  on_click=lambda: st.session_state.pop(NEW_TEACHER_KEY, None))


@st.fragment(run_every=BOARD_SECONDS)
def now_training(code: str) -> None:
    board = job_board()
    frame = class_trainings(board, code)
    waiting = int(frame["now"].str.startswith("waiting").sum())
    st.caption(f"{len(frame) - waiting} training now, {waiting} waiting for a free core "
               f"(this server trains {board.max_running} at a time; quick models, the bigram, "
               "train within their page and need no place).")
    if len(frame):
        st.dataframe(frame, hide_index=True, width="stretch")


@st.fragment(run_every=BOARD_SECONDS)  # the class joins and trains while the teacher looks
def members_tab(code: str) -> None:
    board = store.board(code, max_age=SHARED_BOARD_SECONDS)
    if not board.members:
        st.caption("Nobody has joined yet.")
        removed_members(code)
        return
    best = pd.DataFrame([{"member_id": r.member_id, "stage": rooms.STAGE_TITLES.get(r.stage, r.stage),
                          "val loss": r.val_loss} for rs in board.leaderboards.values() for r in rs],
                        columns=["member_id", "stage", "val loss"])
    table = pd.DataFrame([{"member_id": m.id, "nickname": m.nickname, "runs": m.runs} for m in board.members])
    if len(best):
        table = table.merge(best.pivot(index="member_id", columns="stage", values="val loss").reset_index(),
                            on="member_id", how="left")
    st.caption("Each member's number of runs and best val loss on each stage.")
    st.dataframe(table.drop(columns=["member_id"]), hide_index=True, width="stretch",
                 column_config={t: st.column_config.NumberColumn(t, format="%.4f") for t in STAGE_TITLES})
    removed_members(code)
    names = {m.id: m.nickname for m in board.members}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox("Member", list(names), format_func=names.get, key="teacher_member")
    if right.button("Remove from the room", key="teacher_remove_member", icon=":material/person_remove:",
                    on_click=remove, args=("member", chosen, names[chosen]),
                    help="Their runs leave the board and their return key stops working; their nickname stays "
                    "taken. You can undo it."):
        st.rerun()  # the whole page: its notice, the board


def removed_members(code: str) -> None:
    """The members this room's teacher removed, each with Restore (their key works again)."""
    removed_list("member", store.removed_members(code, rooms.teaching().key), lambda m: m.nickname,
                 "Removed members", ":material/person_off:")


def removed_list(kind: str, gone: list, text, title: str, icon: str) -> None:
    """The Undo line of the last removal, and what was removed, each with Restore."""
    undo_line(kind)
    if gone:
        with st.expander(f"{title} ({len(gone)})", icon=icon):
            for item in gone:
                left, right = st.columns([3, 1], vertical_alignment="center")
                left.text(text(item))
                right.button("Restore", key=f"teacher_restore_{kind}_{item.id}", icon=":material/undo:",
                             on_click=restore, args=(kind, item.id, text(item)))


@st.fragment(run_every=BOARD_SECONDS)
def runs_tab(code: str) -> None:
    board = store.board(code, max_age=SHARED_BOARD_SECONDS)
    st.download_button("Download every run (.csv)", store.export_csv(code, rooms.app_address()),
                       file_name=f"room-{code}.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:", key="teacher_csv",
                       help="One row per run: when, who, the stage and model, the losses, the settings and the "
                       "link that reopens them.")
    if not board.runs:
        st.caption("No runs yet.")
        removed_runs(code)
        return
    frame = rooms.runs_frame(board.runs)
    for title in STAGE_TITLES:
        of_stage = frame[frame["stage"] == title]
        if len(of_stage):
            st.markdown(f"**{title}** · {rooms.runs_word(len(of_stage))}")
            rooms.show_runs_table(of_stage)
    by_id = {r.id: r for r in board.runs}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox("Run", list(by_id), key="teacher_run", format_func=lambda i: run_text(by_id[i]))
    if right.button("Remove this run", key="teacher_remove_run", icon=":material/delete:",
                    on_click=remove, args=("run", chosen, run_text(by_id[chosen])), help="You can undo it."):
        st.rerun()
    removed_runs(code)


def run_text(r) -> str:
    return f"{r.nickname} · {rooms.STAGE_TITLES.get(r.stage, r.stage)} · {r.model} · val {r.val_loss:.4f}"


def removed_runs(code: str) -> None:
    """The runs this room's teacher removed, each with Restore (back on the board)."""
    removed_list("run", store.removed_runs(code, rooms.teaching().key), run_text, "Removed runs",
                 ":material/delete_sweep:")


# --- removing, and undoing it ---------------------------------------------------------------------

# kind -> how to remove it, how to put it back, and what each says
REMOVALS = {"run": (store.remove_run, store.restore_run, "The run {} left the board.",
                    "The run {} is back on the board."),
            "member": (store.remove_member, store.restore_member, "{} was removed from the room: their runs left "
                       "the board.", "{} is back in the room, with their runs and return key.")}


def remove(kind: str, row_id: int, text: str) -> None:
    me = rooms.teaching()
    take, _, said, _ = REMOVALS[kind]
    try:
        take(me.code, me.key, row_id)
    except RoomError as e:
        rooms.notice("error", str(e))
        return
    st.session_state[UNDO] = (kind, row_id, text)
    st.toast(said.format(text), icon=":material/check_circle:")


def restore(kind: str, row_id: int, text: str) -> None:
    me = rooms.teaching()
    _, give_back, _, said = REMOVALS[kind]
    try:
        give_back(me.code, me.key, row_id)
    except RoomError as e:
        rooms.notice("error", str(e))
        return
    if st.session_state.get(UNDO, (None, None))[:2] == (kind, row_id):
        st.session_state.pop(UNDO)
    st.toast(said.format(text), icon=":material/undo:")


def undo_line(kind: str) -> None:
    """Right after a removal: what was removed and its Undo (until undone or another removal)."""
    last = st.session_state.get(UNDO)
    if last is None or last[0] != kind:
        return
    _, row_id, text = last
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.text(f"Removed: {text}")
    right.button("Undo", key=f"teacher_undo_{kind}", icon=":material/undo:", type="primary",
                 on_click=restore, args=(kind, row_id, text))


def add_own_challenge() -> None:
    s = st.session_state
    stage = s["challenge_stage"]
    as_teacher(lambda code, key: store.add_challenge(
        code, key, s["challenge_title"], float(s["challenge_target"]),
        stage=None if stage == "any" else stage,
        max_params=int(s["challenge_params"]) or None, max_seconds=float(s["challenge_seconds"]) or None),
        "The challenge is on the board.")()


def challenges_tab(room) -> None:
    board = store.board(room.code)
    on = {c.lecture for c in board.challenges if c.lecture}
    if room.fingerprint == lecture.lecture_fingerprint():
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        offered = [name for name in lecture.LECTURE if name not in on]
        chosen = left.multiselect("The lectures' exercises", offered, format_func=lambda n: lecture.LECTURE[n].title,
                                  key="teacher_lecture_challenges", placeholder="Choose the lectures' figures to beat")
        right.button("Switch on", key="teacher_lecture_on", disabled=not chosen, icon=":material/flag:",
                     on_click=as_teacher(lambda code, key: [store.add_lecture_challenge(code, key, n) for n in chosen],
                                         "The lectures' challenges are on the board."))
    else:
        st.caption("The lectures' exercises are measured on their list (names): on this room's words, set "
                   "challenges of your own.")
    with st.form("own_challenge", clear_on_submit=True, border=True):
        st.markdown("**A challenge of your own**")
        st.text_input("Title", max_chars=limits.MAX_TITLE_CHARS, key="challenge_title",
                      placeholder="Under 2.2 with at most 5,000 parameters")
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox("Stage", ["any", *STAGE_NAMES], key="challenge_stage",
                     format_func=lambda s: "any stage" if s == "any" else rooms.STAGE_TITLES[s])
        c2.number_input("Val loss to beat", 0.5, 5.0, 2.3, 0.001, format="%.4f", key="challenge_target")
        c3.number_input("Most parameters (0: any)", 0, 10_000_000, 0, 1000, key="challenge_params")
        c4.number_input("Most seconds (0: any)", 0.0, 3600.0, 0.0, 5.0, key="challenge_seconds")
        st.form_submit_button("Add the challenge", icon=":material/add:", on_click=add_own_challenge)
    if board.challenges:
        names = {c.id: c.title for c in board.challenges}
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox("Challenge", list(names), format_func=names.get, key="teacher_challenge")
        right.button("Remove it", key="teacher_remove_challenge", icon=":material/delete:", args=(chosen,),
                     on_click=as_teacher(store.remove_challenge, "The challenge was removed."))


def set_words(dataset) -> None:
    as_teacher(lambda code, key: store.set_words(code, key, *room_list(dataset)),
               f"The room now trains on {dataset.name}.")()


def words_tab(room) -> None:
    st.text(f"The room trains on {room.dataset}" + (" (uploaded)." if room.words is not None else "."))
    st.caption("Every member's pages train on the room's list, so that the class compares on the same words. "
               "Runs already on the board stay; a run on the old list is no longer posted.")
    source = st.radio("Choose", ["A built-in list", "Upload a list"], horizontal=True, key="teacher_words_source",
                      label_visibility="collapsed")
    chosen = None
    if source == "A built-in list":
        name = st.selectbox("Word list", builtin_files(), format_func=label, key="teacher_words_builtin")
        chosen = load_builtin(name)
    else:
        upload = st.file_uploader("A .txt file, one word per line", type=["txt", "csv", "tsv"],
                                  key="teacher_words_upload")
        if upload is not None:
            try:
                chosen = load_upload(upload.getvalue(), upload.name)
            except DataError as e:
                st.error(f"This file can't be used: {plain(e)}", icon=":material/error:")
    same = chosen is not None and chosen.fingerprint == room.fingerprint
    st.button("Use this list for the room", key="teacher_words_set", icon=":material/list_alt:",
              disabled=chosen is None or same, on_click=set_words, args=(chosen,),
              help="It is the room's list already." if same else None)


def room_tab(room) -> None:
    if room.closed:
        st.text("The room is closed: nobody can join, and new runs are not posted.")
        st.button("Reopen the room", key="teacher_reopen", icon=":material/lock_open:",
                  on_click=as_teacher(store.set_closed, "The room is open again."), args=(False,))
    else:
        st.text("The room is open: students can join, and their runs are posted.")
        st.button("Close the room", key="teacher_close", icon=":material/lock:",
                  on_click=as_teacher(store.set_closed, "The room is closed to new members and new runs."),
                  args=(True,))
    days = max(0, (room.expires_at - pd.Timestamp.now("UTC").timestamp()) / 86400)
    st.caption(f"Its code stops working in {days:.0f} days ({limits.ROOM_DAYS} days after it was opened).")


def teacher_view(room) -> None:
    st.header(plain(room.title))
    projector = st.toggle("Projector view", key="teacher_projector",
                          help="Show the class only the join code and the board: your controls are hidden.")
    if projector:  # the projector's layout: no sidebar, large type
        rooms.projector_style()
    share_panel(room, projector)
    if not projector:
        teacher_link_once(room.code)
        st.subheader("Your controls")
        st.caption("Only you see these: they need the teacher key.")
        # only the open tab runs (and redraws itself): the others cost nothing while the lesson goes on
        tabs = st.tabs(["Training now", "Members", "Runs", "Challenges", "Polls", "Word list", "The room"],
                       key="teacher_tab", on_change="rerun")
        panels = [lambda: now_training(room.code), lambda: members_tab(room.code), lambda: runs_tab(room.code),
                  lambda: challenges_tab(room), lambda: polls_ui.teacher_polls_tab(room.code),
                  lambda: words_tab(room), lambda: room_tab(room)]
        for tab, panel in zip(tabs, panels):
            if tab.open:
                with tab:
                    panel()
    st.divider()
    live_board(room.code, None, projector)


# --- the student's view and the way in ---------------------------------------------------------

def student_view(room, me) -> None:
    st.header(plain(room.title))
    st.text(f"Room {shown_code(room.code)} · you are {me.nickname}")
    if room.closed:
        st.markdown("**This room is closed**: its teacher has ended it, so the trainings you finish are no longer "
                    "posted. The board stays.")
    else:
        st.markdown("Train on any stage's page: each training you finish goes on this board (untick *Share my "
                    "runs* in the sidebar to keep them to yourself). Everyone trains on the room's list, "
                    f"**{plain(room.dataset)}**.")
    with st.expander("Your return key: come back on another device", icon=":material/key:",
                     expanded=st.session_state.pop(JUST_JOINED, False)):
        st.markdown("This browser brings you back by itself. On another device, open the Class room page and "
                    "type the room's code and this key under *Come back*. Keep it to yourself: it is what posts "
                    "runs as you.")
        st.code(me.token, language=None)
    live_board(room.code, me)


def way_in() -> None:
    join_tab, back_tab, teacher_tab = st.tabs(["Join a room", "Come back", "Teachers: open a room"])
    with join_tab, st.form("join", border=False):
        st.text_input("Room code", value=st.session_state.get(rooms.LINK_CODE, ""), key="join_code", max_chars=16,
                      placeholder="ACDE-FGHJ", help="Your teacher shows it, or the link you opened holds it.")
        # the box takes more than a nickname may have: a longer one pasted is refused in words, not cut
        st.text_input("Nickname", key="join_nickname", max_chars=4 * limits.MAX_NICKNAME_CHARS,
                      help=f"1 to {limits.MAX_NICKNAME_CHARS} letters, digits, spaces or -_.' ; the whole class "
                      "sees it on the board.")
        st.form_submit_button("Join", type="primary", icon=":material/login:", on_click=join)
    with back_tab, st.form("come_back", border=False):
        st.caption("Joined on another device? The return key shown there brings you back as the same student.")
        st.text_input("Room code", value=st.session_state.get(rooms.LINK_CODE, ""), key="back_code", max_chars=16)
        st.text_input("Return key", key="back_key", type="password", max_chars=32)
        st.form_submit_button("Come back", icon=":material/history:", on_click=come_back)
    with teacher_tab:
        with st.form("open_room", border=False):
            st.caption(f"The room trains on the list chosen in the sidebar, {plain(current_dataset().name)}; you "
                       "can change it afterwards. The room lasts "
                       f"{limits.ROOM_DAYS} days.")
            st.text_input("Title", key="open_title", max_chars=limits.MAX_TITLE_CHARS,
                          placeholder="Lecture 2, Tuesday")
            st.form_submit_button("Open a room", type="primary", icon=":material/meeting_room:", on_click=open_room)
        with st.expander("Open your room again with its teacher key"), st.form("teach_again", border=False):
            st.text_input("Room code", key="teach_code", max_chars=16)
            st.text_input("Teacher key", key="teach_key", type="password", max_chars=32)
            st.form_submit_button("Open as its teacher", icon=":material/key:", on_click=teach_again)


st.title("Class room")
st.markdown("A room puts a class's trainings side by side: the teacher opens one, everyone joins with its code, "
            "and every training a member finishes, on any page, goes on the room's board. The scores are the "
            "server's own, from the trainings it ran.")
rooms.show_notice()

me, teacher = rooms.seat(), rooms.teaching()
room = store.room(teacher.code if teacher is not None else me.code) if (me or teacher) else None
link_code = st.session_state.get(rooms.LINK_CODE)
if teacher is not None and room is not None:
    teacher_view(room)
elif me is not None and room is not None:
    if link_code and link_code != room.code:
        st.info("The link you opened is for another room: join it below to leave this one.",
                icon=":material/info:")
        way_in()
    student_view(room, me)
else:
    way_in()
