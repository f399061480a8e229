"""The Bigram page's counted losses, in the app's shared cache: the warm-up (training/warmup.py)
fills them for the default list before the page's first visitor asks."""

from __future__ import annotations

import streamlit as st

from makemore.data import WordDataset
from makemore.train import evaluate


@st.cache_data(max_entries=256, show_spinner=False)
def counts_nll(fingerprint: str, alpha: float, split: str, _dataset: WordDataset, _counts) -> float:
    """The counts' NLL on a split at this α: the same for every visitor, so evaluated once."""
    X, Y = _dataset.examples(split, 1)
    return evaluate(_counts.with_alpha(alpha), X, Y)
