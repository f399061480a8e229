"""makemore playground: the entry point (`streamlit run app/Home.py`). Routes between the pages with
st.navigation and draws the dataset picker that every page shares; landing.py is the home page."""

import sys
from pathlib import Path

# The makemore package sits beside app/. `streamlit run app/Home.py` puts only app/ on the path, and
# Streamlit Community Cloud installs app/requirements.txt, not this repository: so put it there.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.append(ROOT)

import streamlit as st  # noqa: E402

from datasets_ui import dataset_sidebar  # noqa: E402
from registry import STAGES  # noqa: E402

st.set_page_config(page_title="makemore playground", page_icon=":material/school:", layout="wide")

navigation = st.navigation({
    "": [st.Page("landing.py", title="Home", icon=":material/home:", default=True)],
    "Stages": [st.Page(s.page, title=s.title, icon=s.icon) for s in STAGES],
    "Compare": [st.Page("stages/compare.py", title="Compare", icon=":material/leaderboard:")],
})
dataset_sidebar()
navigation.run()
