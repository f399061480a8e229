"""The dataset picker in the sidebar, shared by every page: choose a word list once."""

from pathlib import Path

import streamlit as st

from makemore import limits
from makemore.data import DataError, WordDataset
from kit.plain_text import plain

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DESCRIPTIONS = {  # shown in the picker; a new file in data/ appears under its own name
    "names.txt": "the lectures' names",
    "us-names.txt": "US first names",
    "surnames.txt": "US surnames",
    "cities.txt": "world cities",
}
DEFAULT = "names.txt"
UPLOAD = "upload"


def builtin_files() -> list[str]:
    names = sorted(p.name for p in DATA_DIR.glob("*.txt"))
    return sorted(names, key=lambda n: n != DEFAULT)  # the lectures' list first


@st.cache_resource(max_entries=limits.MEMORY_DATASETS, show_spinner=False)
def load_builtin(filename: str) -> WordDataset:
    return WordDataset.from_file(DATA_DIR / filename)


@st.cache_resource(max_entries=limits.MEMORY_DATASETS, show_spinner=False)
def load_upload(raw: bytes, filename: str) -> WordDataset:
    return WordDataset.from_bytes(raw, filename)  # a DataError is raised, never cached


def label(option: str) -> str:
    if option == UPLOAD:
        return "Upload your own list…"
    return f"{Path(option).stem} · {DESCRIPTIONS.get(option, 'word list')}"


def dataset_sidebar(room_words=None) -> WordDataset:
    """Draw the picker and return the chosen dataset (the default list if an upload is bad). In a
    class room the room's list instead: `room_words` returns it (or raises DataError), so that every
    member trains and compares on the same words."""
    with st.sidebar:
        st.subheader("Dataset")
        if room_words is not None:
            try:
                dataset = room_words()
            except DataError as e:
                st.warning(f"{plain(e)} Until the teacher chooses the list again, pick one here; runs on it are not "
                           "posted to the room.", icon=":material/warning:")
            else:
                st.caption(f"**{plain(dataset.name)}**, the class room's list: every member trains on the same words "
                           f"({len(dataset.words):,} words, {len(dataset.vocab)} symbols).")
                st.session_state["dataset"] = dataset
                return dataset
        choice = st.selectbox("Word list", [*builtin_files(), UPLOAD], format_func=label,
                              key="dataset_choice", help="Every page trains on this list.")
        dataset = None
        if choice == UPLOAD:
            upload = st.file_uploader(
                "A .txt file, one word per line", type=["txt", "csv", "tsv"], key="dataset_upload",
                help=f"At most {limits.MAX_WORDS:,} words of up to {limits.MAX_WORD_LEN} characters "
                f"and {limits.MAX_VOCAB} distinct characters; {limits.MAX_FILE_BYTES / 1e6:.0f} MB. "
                "Words are kept as written: upper and lower case are different characters. "
                "A CSV gives its first text column, under its header row if it has one.")
            if upload is None:
                st.info(f"Until you choose a file, pages use {Path(DEFAULT).stem}.")
            else:
                try:
                    dataset = load_upload(upload.getvalue(), upload.name)
                except DataError as e:
                    st.error(f"This file can't be used: {e} Pages use {Path(DEFAULT).stem} meanwhile.")
        else:
            dataset = load_builtin(choice)
        if dataset is None:
            dataset = load_builtin(DEFAULT)
        st.caption(f"**{dataset.name}**: {len(dataset.words):,} words, {len(dataset.vocab)} symbols "
                   f"(boundary `{dataset.vocab.boundary}`)")
        for note in dataset.notes:
            st.info(note, icon=":material/info:")
    st.session_state["dataset"] = dataset
    return dataset


def current_dataset() -> WordDataset:
    """The dataset chosen in the sidebar (Home.py draws the picker before any page runs)."""
    return st.session_state.get("dataset") or load_builtin(DEFAULT)
