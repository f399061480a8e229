"""The landing page: what the playground is, how to use it in a class, the chosen dataset and the
stages. (Home.py is the entry point that routes here.)"""

import streamlit as st

from kit.dataset_views import dataset_charts, dataset_stats
from kit.datasets_ui import current_dataset
from registry import STAGES

st.title("makemore playground")
st.markdown(
    "Build a character-level language model the way the *makemore* lectures do, one stage at a "
    "time, starting from counting which character follows which. Every stage trains a real "
    "PyTorch model on the word list you choose, right here in the page, and shows what it learned: "
    "its loss as it trains, its parameters, and new words sampled from it."
)
with st.expander("Using it in a class", expanded=False):
    st.markdown(
        "- **Pick a word list once** in the sidebar: every page trains on it. Try the same model "
        "on names, surnames and city names and compare the samples: each list is its own "
        "*language*. You can also upload your own list (a `.txt` file, one word per line).\n"
        "- **Walk the stages in order** (left, or the table below). Each page opens with the idea, "
        "then the controls, the results and charts, then *how it works* with the math.\n"
        "- **Trained models are shared**: when anyone has trained a model with the same data and "
        "settings, it appears at once for everyone, so a whole class can follow the teacher's "
        "settings without waiting.\n"
        "- **Same settings and seed, same numbers**: results are reproducible, so students can "
        "check each other's losses."
    )

dataset = current_dataset()
st.header(f"The data: {dataset.name}")
stats = dataset_stats(dataset.fingerprint, dataset)
cols = st.columns(5)
cols[0].metric("words", f"{stats['words']:,}")
cols[1].metric("distinct words", f"{stats['distinct words']:,}",
               help=f"{stats['duplicates']:,} lines repeat an earlier word; duplicates are kept.")
cols[2].metric("vocabulary", stats["vocabulary"],
               help=f"{stats['vocabulary'] - 1} characters plus the boundary token "
               f"`{dataset.vocab.boundary}` that starts and ends every word.")
cols[3].metric("length", f"{stats['shortest']}–{stats['longest']}",
               help=f"mean {stats['mean length']:.1f} characters")
cols[4].metric("training words", f"{stats['train words']:,}",
               help=f"80% of the words, shuffled with a fixed seed; {stats['val words']:,} more are kept "
               f"for validation and {stats['test words']:,} for the final test.")

lengths_chart, chars_chart, ends_chart = dataset_charts(dataset.fingerprint, dataset)
left, right = st.columns(2)
left.altair_chart(lengths_chart, width="stretch")
right.altair_chart(chars_chart, width="stretch")
st.altair_chart(ends_chart, width="stretch")
st.caption("A few words from the list: " + ", ".join(dataset.words[:12]))

st.header("The stages")
rows = [f"| {s.title} | {s.lecture} | {s.teaches} | {', '.join(f'`{m}`' for m in s.models) or '—'} |"
        for s in STAGES]
st.markdown("| stage | lecture | what it teaches | models |\n|---|---|---|---|\n" + "\n".join(rows))
for stage in STAGES:
    st.page_link(stage.page, label=f"Open the {stage.title} stage", icon=stage.icon)
