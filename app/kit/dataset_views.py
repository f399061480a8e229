"""The home page's view of a word list: its figures and its three charts, built once per list for
every visitor (keyed by its content) and, for the default list, by the warm-up before anyone asks."""

import pandas as pd
import streamlit as st

import charts
from makemore import limits


@st.cache_resource(max_entries=limits.MEMORY_DATASETS, show_spinner=False)
def dataset_charts(fingerprint: str, _dataset):
    """Word lengths, how often each character occurs, the characters that start and end words."""
    lengths = pd.DataFrame(sorted(_dataset.length_counts().items()), columns=["length", "words"])
    chars = pd.DataFrame(_dataset.char_counts().most_common(), columns=["char", "count"])
    chars["share"] = chars["count"] / chars["count"].sum()
    first, last = _dataset.position_counts()
    ends = pd.DataFrame([(c, "first", n) for c, n in first.items()] + [(c, "last", n) for c, n in last.items()],
                        columns=["char", "position", "words"])
    return charts.length_histogram(lengths), charts.char_frequency(chars), charts.first_last_chars(ends)


@st.cache_data(max_entries=limits.MEMORY_DATASETS, show_spinner=False)
def dataset_stats(fingerprint: str, _dataset) -> dict:
    return _dataset.stats()
