"""Small pieces every stage page uses: sample controls and table, loss history as a frame, a
metric's difference from a reference, the model's source in an expander, the message for a
diverged training."""

import inspect
import threading

import pandas as pd
import streamlit as st

from makemore import limits
from makemore.sample import Sample
from makemore.train import TrainResult


def history_frame(result: TrainResult) -> pd.DataFrame:
    """Train loss per step and val loss at each evaluation, long format for charts.loss_curve."""
    train = pd.DataFrame({"step": result.step_history, "loss": result.loss_history, "split": "train"})
    val = pd.DataFrame(result.val_history, columns=["step", "loss"]).assign(split="val")
    return pd.concat([train, val], ignore_index=True)


def smoothed_history(steps: list[int], losses: list[float], val: list[tuple[int, float]],
                     max_points: int = 400) -> pd.DataFrame:
    """Train loss averaged over consecutive steps (at most max_points of them: smoother, and light
    to ship to the browser however long the run) and every val loss; long format for loss_curve."""
    train = pd.DataFrame({"step": steps, "loss": losses})
    if len(train) > max_points:
        bucket = (train.index * max_points // len(train)).rename("bucket")
        train = train.groupby(bucket).agg(step=("step", "max"), loss=("loss", "mean"))
    val = pd.DataFrame(val, columns=["step", "loss"]).assign(split="val")
    return pd.concat([train.assign(split="train"), val], ignore_index=True)


def difference(value: float, reference: float, name: str, digits: int = 4) -> dict:
    """A metric's delta against `name`'s `reference`: "+0.0123 vs counts", or "= counts" without an
    arrow when the two agree to the digits shown (never "-0.0000", which reads as a loss)."""
    change = round(value - reference, digits)
    if change == 0:
        return dict(delta=f"= {name}", delta_arrow="off")
    return dict(delta=f"{change:+.{digits}f} vs {name}")


def sample_controls(key: str, default_num: int = 20, top_k: bool = False) -> dict:
    """Number, seed, temperature (and top-k) of samples; keyword arguments for generate()."""
    c1, c2, c3, *c4 = st.columns(4 if top_k else 3)
    num = c1.slider("How many", 1, min(60, limits.MAX_SAMPLES), default_num, key=f"{key}_num",
                    persist_state="session")
    seed = c2.number_input("Sampling seed", 0, 1_000_000, 0, key=f"{key}_seed", persist_state="session",
                           help="The same seed draws the same words.")
    temperature = c3.slider("Temperature", 0.1, 2.0, 1.0, 0.1, key=f"{key}_temp", persist_state="session",
                            help="Below 1: safer, more common words. Above 1: wilder ones.")
    options = dict(num=num, seed=int(seed), temperature=temperature)
    if top_k:
        k = c4[0].slider("Top-k (0: all characters)", 0, 20, 0, key=f"{key}_topk", persist_state="session",
                         help="Draw each character from the k most likely only: fewer odd words.")
        options["top_k"] = k or None
    return options


def shown(word: str) -> str:
    return word or "(empty)"  # the model may end a word before its first character


MISSING = "—"  # what a table shows where it has no value (st.dataframe would write "None")
ROW_HEIGHT = 35  # st.dataframe's row (and header) height in pixels, one line of text; set, so heights add up
FRAME = 3  # the table's border
SCROLLBAR = 12  # room for a horizontal scrollbar, which would otherwise cover the last row
# Widths are guessed from the text: 14 px Source Sans averages under 7 px a character, and a cell
# pads 8 px each side. A table wider than TABLE_WIDTH (the page's width in a 1,400 px window, beside
# the sidebar) wraps its long text columns in WRAPPED_WIDTH instead, in rows tall enough for it all.
CHAR_WIDTH, CELL_PADDING, LINE_HEIGHT = 7, 16, 20
TABLE_WIDTH = 900
LONG_TEXT = 24  # characters: a text column that may wrap
WRAPPED_WIDTH = 200


def table_height(rows: int, row_height: int = ROW_HEIGHT) -> int:
    """The pixels a table of `rows` rows and its header need: every row shown, none cut."""
    return ROW_HEIGHT + rows * row_height + FRAME + SCROLLBAR


def text_width(values) -> int:
    return max((len(str(v)) for v in values), default=0)


def table_layout(df: pd.DataFrame) -> tuple[dict, int]:
    """(column configs, row height) that show every column at once rather than scrolling sideways:
    when the table would be wider than TABLE_WIDTH, its long text columns wrap, and the rows grow
    to hold their longest text."""
    chars = {name: max(len(str(name)), text_width(df[name])) for name in df.columns}
    if sum(n * CHAR_WIDTH + CELL_PADDING for n in chars.values()) <= TABLE_WIDTH:
        return {}, ROW_HEIGHT
    long = [name for name in df.columns if not pd.api.types.is_numeric_dtype(df[name]) and chars[name] > LONG_TEXT]
    per_line = (WRAPPED_WIDTH - CELL_PADDING) // CHAR_WIDTH
    lines = max((-(-text_width(df[name]) // per_line) for name in long), default=1)
    configs = {name: st.column_config.TextColumn(width=WRAPPED_WIDTH) for name in long}
    return configs, max(ROW_HEIGHT, 10 + lines * LINE_HEIGHT, 66 if long else 0)  # the grid wraps only past 64 px


def show_table(df: pd.DataFrame, max_height: int = 420, column_config: dict | None = None) -> None:
    """A dataframe with every row (up to max_height pixels, then it scrolls) and every column shown,
    long text wrapped when the columns would not fit; "—" where a value is missing. `column_config`
    adds to (or overrides) the columns' configs."""
    configs, row_height = table_layout(df)
    st.dataframe(df, hide_index=True, width="stretch", height=min(table_height(len(df), row_height), max_height),
                 row_height=row_height, placeholder=MISSING, column_config={**configs, **(column_config or {})})


def show_samples(samples: list[Sample]) -> None:
    new = sum(not s.in_train for s in samples)
    show_table(pd.DataFrame({"sample": [shown(s.word) for s in samples],
                             "origin": ["new" if not s.in_train else "in the training set" for s in samples]}))
    st.caption(f"{new} of {len(samples)} samples are new words, not in the training split.")


_parsing = threading.Lock()
_sources: dict = {}  # by the object itself: a module edited and reloaded brings new objects


def source_of(obj) -> str:
    """The source of a module, class or function, read once. For a class, inspect parses its whole
    module; two pages doing so at once in CPython 3.11.7 (this machine's) can fail with "SystemError:
    AST constructor recursion depth mismatch" (bench/classroom.py, 30 students): one at a time."""
    with _parsing:
        if obj not in _sources:
            _sources[obj] = inspect.getsource(obj)
        return _sources[obj]


def show_source(*objects, title: str = "The model's source code") -> None:
    with st.expander(title):
        for obj in objects:
            st.code(source_of(obj), language="python")


def diverged(e: FloatingPointError) -> None:
    st.error(f"Training went off the rails: {e}. Lower the learning rate and train again.")
