"""Predict, then train: the teacher puts a page's run to the class, every student types the val loss
they expect, then the server trains it once (or opens it, already trained) and the board shows the
predictions against the result. The polls live in the room's store (makemore.rooms: open_poll,
predict, poll_result); this module draws them.

- On a training page (kit.training_ui.trained_live calls poll_controls and poll_result_shown): the
  teacher's button that opens a poll on the page's run, the student's line that a poll is open, and
  the student's own optional prediction before Train (posted with the run: rooms_ui.post_to_room).
- On the Class room page: each poll on the board (predictions_section: a student's form while it is
  open, the histogram and who came closest once its result is in) and the teacher's Polls tab.

Only the server's own training gives a poll its result, and a prediction is written under the
student's own return key: nothing a browser sends changes another student's prediction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

import charts
from kit import rooms_ui as rooms
from kit.plain_text import plain
from makemore import limits

if TYPE_CHECKING:
    from makemore.data import WordDataset
    from makemore.rooms import Board, Poll
    from makemore.runs import Run
    from makemore.serving.jobs import TrainingJob

ROOM_PREDICTIONS = "room_predictions"  # session_state: run key -> the val loss this student noted before Train
# session_state: run keys whose open poll this teacher's page saw untrained: the class watched it train,
# so its result is recorded as soon as the training ends (an already-trained run waits for "Show the result")
TRAINED_BEFORE_CLASS = "poll_trained_before_class"
MESSAGES = "poll_messages"  # session_state: poll id -> (kind, text), the outcome of the student's last send
BOARD_SECONDS = 3  # a board read this recently will do (the store's shared read, as the Class room page's)
BIN_WIDTHS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)  # a histogram's bar widths, in val loss
MOST_BINS = 24


# --- on a training page --------------------------------------------------------------------------

def poll_controls(dataset: WordDataset, run: Run, job: TrainingJob | None) -> None:
    """Beside the Train button: the teacher's "Ask the class to predict" (on the room's words), or for
    a student the line that the teacher asks for a prediction and, before Train, their own prediction."""
    me, teacher = rooms.seat(), rooms.teaching()
    if me is None and teacher is None:
        return  # most visitors: the room store is not opened for them
    store = rooms.room_store()
    code = teacher.code if teacher is not None else me.code
    room = store.room(code)
    if room is None or room.fingerprint != dataset.fingerprint:
        return  # the page trains on other words than the room's (the sidebar says why)
    run_key = run.key(dataset)
    board = store.board(code, max_age=BOARD_SECONDS)
    if teacher is not None:
        _teacher_controls(board, dataset, run, run_key, job)
        return
    teacher_asks(board, me)
    if job is None or not job.finished and not job.active:
        own_prediction(run_key)


def teacher_asks(board: Board, me: rooms.Seat) -> None:
    """While a poll is open: "Your teacher asks for a prediction", with a link to the room's page."""
    asking = [p for p in board.polls if p.open]
    if not asking:
        return
    answered = sum(any(g.member_id == me.member_id for g in p.predictions) for p in asking)
    left, right = st.columns([3, 2], vertical_alignment="center")
    sent = ": you have sent yours." if answered == len(asking) else "."
    left.info(f"Your teacher asks for a prediction{sent}", icon=":material/psychology_alt:")
    right.page_link(rooms.CLASS_ROOM_PAGE, label="Predict on the room's page", icon=":material/groups:")


def own_prediction(run_key: str) -> None:
    """The student's optional prediction of this run's val loss, noted before Train; the room's board
    shows it beside the result (post_to_room sends it with the run)."""
    noted = st.session_state.setdefault(ROOM_PREDICTIONS, {})
    value = st.number_input(
        "Your prediction of its val loss (optional)", min_value=limits.MIN_PREDICTION,
        max_value=limits.MAX_PREDICTION, value=noted.get(run_key), step=0.01, format="%.2f",
        key=f"room_prediction_{run_key}", placeholder="e.g. 2.3",
        help="Before you press Train: what val loss do you expect? The room's board shows it beside the result.")
    if value is None:
        noted.pop(run_key, None)
    else:
        noted[run_key] = float(value)


def _teacher_controls(board: Board, dataset: WordDataset, run: Run, run_key: str, job: TrainingJob | None) -> None:
    open_here = [p for p in board.polls if p.open and p.run_key == run_key]
    if open_here:
        if job is None or not job.finished:  # the class sees it train: its result goes in when it ends
            st.session_state.setdefault(TRAINED_BEFORE_CLASS, set()).add(run_key)
        untrained = job is None or not job.finished and not job.active
        st.info(f"The class is predicting this run's val loss: {_predicted_line(open_here[0], board)}."
                + (" Press **Train** when they are ready." if untrained else ""), icon=":material/psychology_alt:")
        return
    if board.room.closed:
        return
    st.button("Ask the class to predict this run's val loss", key="poll_open", icon=":material/psychology_alt:",
              on_click=_open_poll, args=(dataset, run),
              help="Every student in the room types the val loss they expect on the room's page; then train it "
              "here (or show it, when it is trained already) and the board shows who came closest.")


def _open_poll(dataset: WordDataset, run: Run) -> None:
    from makemore.rooms import RoomError

    teacher = rooms.teaching()
    stage = rooms.stage_of(run.model_name)
    try:
        rooms.room_store().open_poll(
            teacher.code, teacher.key, rooms.stage_id(stage) if stage else run.model_name, run.model_name,
            run.key(dataset), run.to_dict(), rooms.run_page_link(run.model_name, run.model_config, run.train_config))
    except RoomError as e:
        st.toast(plain(e), icon=":material/warning:")
        return
    st.toast("The class can predict now: the room's page asks every student.", icon=":material/psychology_alt:")


def poll_result_shown(dataset: WordDataset, run: Run, job: TrainingJob) -> None:
    """Before the page shows a finished training: when the teacher's page reaches a run with an open
    poll, its result goes to the poll (the server's own val loss). A run that was trained before the
    class predicted waits, its result hidden, until the teacher shows it (st.stop until then)."""
    teacher = rooms.teaching()
    if teacher is None or not job.finished:
        return  # a stopped training is not the run the class predicted
    from makemore.rooms import RoomError

    store = rooms.room_store()
    run_key = run.key(dataset)
    try:
        waiting = store.open_polls_for(teacher.code, run_key)
    except RoomError:
        return
    if not waiting:
        return
    if run_key not in st.session_state.get(TRAINED_BEFORE_CLASS, set()):
        board = store.board(teacher.code, max_age=BOARD_SECONDS)
        st.info(f"This run is trained already; its result stays hidden while the class predicts "
                f"({_predicted_line(waiting[0], board)}).", icon=":material/visibility_off:")
        st.button("Show the result to the class", key="poll_show", type="primary", icon=":material/visibility:",
                  on_click=lambda: st.session_state.setdefault(TRAINED_BEFORE_CLASS, set()).add(run_key))
        st.stop()
    for poll in waiting:
        try:
            store.poll_result(teacher.code, teacher.key, poll.id, job.result.val_loss, job.result.params)
        except RoomError as e:  # another tab of the teacher's recorded it a moment ago
            st.toast(plain(e), icon=":material/info:")
    closed = next((p for p in store.polls(teacher.code) if p.id == waiting[0].id), None)
    if closed is not None:
        st.success(f"The class's poll has its result, val {job.result.val_loss:.4f}: {closest_line(closed)}",
                   icon=":material/psychology_alt:")


def _predicted_line(poll: Poll, board: Board) -> str:
    return f"{len(poll.predictions)} of {len(board.members)} students have predicted"


def closest_line(poll: Poll) -> str:
    """"closest: ada (2.1500, off by 0.0124)", or that nobody predicted."""
    if not poll.predictions:
        return "nobody predicted it."
    if poll.result is None:
        return f"{len(poll.predictions)} predictions."
    names = ", ".join(f"{p.nickname} ({p.value:.4f})" for p in poll.closest)
    off = abs(poll.closest[0].value - poll.result)
    return f"closest {names}, off by {off:.4f}, of {len(poll.predictions)} predictions."


# --- on the Class room page ----------------------------------------------------------------------

def predictions_section(board: Board, me: rooms.Seat | None) -> None:
    """The room's polls on its board, newest first: the open ones (with the student's form), the newest
    closed one in full, the older ones in an expander."""
    if not board.polls:
        return
    st.subheader("Predictions")
    st.caption("The teacher puts a run to the class: everyone predicts its val loss, then the server trains it. "
               "The predictions stay hidden until its result is in.")
    shown = [p for p in board.polls if p.open] + [p for p in board.polls if not p.open][:1]
    for poll in shown:
        with st.container(border=True):
            show_poll(poll, board, me)
    older = [p for p in board.polls if p not in shown]
    if older:
        with st.expander(f"Older polls ({len(older)})", icon=":material/history:"):
            for poll in older:
                show_poll(poll, board, me)


def show_poll(poll: Poll, board: Board, me: rooms.Seat | None) -> None:
    title = rooms.STAGE_TITLES.get(poll.stage, poll.stage)
    st.markdown(f"**{plain(title)} · {plain(poll.model)}**: {plain(rooms.settings_text(poll.settings))} · "
                f"[open this setting]({rooms.page_url(poll.link)})")
    if poll.open:
        st.text(f"Open: {_predicted_line(poll, board)}.")
        if me is not None:
            prediction_form(poll, me)
        return
    c1, c2, c3 = st.columns([1, 1, 3])
    c1.metric("result: val loss", f"{poll.result:.4f}" if poll.result is not None else "—")
    c2.metric("predictions", len(poll.predictions))
    if poll.result is None:
        c3.text("Ended by the teacher without a result.")
    elif poll.closest:
        c3.text(f"Closest: {', '.join(p.nickname for p in poll.closest)} "
                f"({poll.closest[0].value:.4f}, off by {abs(poll.closest[0].value - poll.result):.4f})")
    if me is not None:
        mine = _mine(poll, me)
        if mine is not None:
            st.caption(f"Your prediction: {mine:.4f}"
                       + (f", off by {abs(mine - poll.result):.4f}." if poll.result is not None else "."))
    if poll.predictions:
        st.altair_chart(charts.poll_predictions(prediction_bins([p.value for p in poll.predictions],
                                                                [p.nickname for p in poll.predictions]),
                                                poll.result), width="stretch")


def _mine(poll: Poll, me: rooms.Seat) -> float | None:
    return next((p.value for p in poll.predictions if p.member_id == me.member_id), None)


def prediction_form(poll: Poll, me: rooms.Seat) -> None:
    mine = _mine(poll, me)
    with st.form(f"poll_{poll.id}", border=False):
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        left.number_input("Your prediction of its val loss", min_value=limits.MIN_PREDICTION,
                          max_value=limits.MAX_PREDICTION, value=mine, step=0.01, format="%.4f",
                          key=f"poll_{poll.id}_value", placeholder="e.g. 2.3",
                          help="The val loss you expect this run to reach. You can change it until the result is in.")
        right.form_submit_button("Send my prediction" if mine is None else "Change my prediction",
                                 icon=":material/send:", on_click=_predict, args=(poll.id,))
    kind, text = st.session_state.get(MESSAGES, {}).get(poll.id, (None, None))
    if kind == "error":
        st.error(plain(text), icon=":material/error:")
    elif mine is not None:
        st.caption(f"Your prediction: {mine:.4f}. Others' stay hidden until the result is in.")


def _predict(poll_id: int) -> None:
    from makemore.rooms import RoomError

    me = rooms.seat()
    value = st.session_state.get(f"poll_{poll_id}_value")
    messages = st.session_state.setdefault(MESSAGES, {})
    if me is None:
        return
    if value is None:
        # nothing typed, or a number outside the field's bounds (Streamlit drops one, as a browser's field refuses it)
        messages[poll_id] = ("error", f"Type the val loss you expect: a number from {limits.MIN_PREDICTION:g} to "
                             f"{limits.MAX_PREDICTION:g}.")
        return
    try:
        rooms.room_store().predict(me.code, me.token, poll_id, float(value))
    except RoomError as e:
        messages[poll_id] = ("error", str(e))
        return
    messages.pop(poll_id, None)


def prediction_bins(values: list[float], nicknames: list[str]) -> pd.DataFrame:
    """The predictions as a histogram's bars (from, to, predictions, who): the narrowest width of
    BIN_WIDTHS that covers them in at most MOST_BINS bars."""
    low, high = min(values), max(values)
    width = next((w for w in BIN_WIDTHS if (high - low) / w < MOST_BINS), BIN_WIDTHS[-1])
    bars: dict[int, list[str]] = {}
    for value, name in zip(values, nicknames):
        bars.setdefault(math.floor(round(value / width, 9)), []).append(name)
    return pd.DataFrame([{"from": round(i * width, 6), "to": round((i + 1) * width, 6), "predictions": len(names),
                          "who": ", ".join(sorted(names))[:200]} for i, names in sorted(bars.items())],
                        columns=["from", "to", "predictions", "who"])


def teacher_polls_tab(code: str) -> None:
    """The teacher's polls: how to open one, ending an open one without a result, every prediction as CSV."""
    store = rooms.room_store()
    board = store.board(code, max_age=BOARD_SECONDS)
    st.caption("Put a run to the class from any training page: set it up, then press *Ask the class to predict "
               "this run's val loss* beside Train. Train it when the class is ready (or show it, when it is "
               "trained already): its result goes in by itself, and the board shows who came closest.")
    st.download_button("Download every prediction (.csv)", store.export_polls_csv(code, rooms.app_address()),
                       file_name=f"room-{code}-polls.csv", mime="text/csv", on_click="ignore",
                       icon=":material/download:", key="teacher_polls_csv", disabled=not board.polls,
                       help="One row per prediction: the poll, who predicted what, its result and how far off.")
    if not board.polls:
        st.caption("No polls yet.")
        return
    st.dataframe(pd.DataFrame([{
        "opened": p.created_at, "stage": rooms.STAGE_TITLES.get(p.stage, p.stage), "model": p.model,
        "settings": rooms.settings_text(p.settings), "predictions": len(p.predictions),
        "result": p.result, "state": "open" if p.open else "result in" if p.result is not None else "ended",
    } for p in board.polls]).assign(opened=lambda f: rooms.local_times(f["opened"])), hide_index=True,
        width="stretch", column_config={
            "opened": st.column_config.DatetimeColumn("opened", format="HH:mm:ss"),
            "result": st.column_config.NumberColumn("result", format="%.4f")})
    still_open = {p.id: p for p in board.polls if p.open}
    if still_open:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox("Open poll", list(still_open), key="teacher_poll", format_func=lambda i: (
            f"{rooms.STAGE_TITLES.get(still_open[i].stage, still_open[i].stage)} · "
            f"{rooms.settings_text(still_open[i].settings)} · {len(still_open[i].predictions)} predictions"))
        right.button("End it without a result", key="teacher_end_poll", icon=":material/stop_circle:",
                     on_click=_end_poll, args=(chosen,), help="No more predictions; the board keeps the poll.")


def _end_poll(poll_id: int) -> None:
    from makemore.rooms import RoomError

    teacher = rooms.teaching()
    try:
        rooms.room_store().end_poll(teacher.code, teacher.key, poll_id)
    except RoomError as e:
        rooms.notice("error", str(e))
