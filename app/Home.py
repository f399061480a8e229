"""makemore playground: the entry point (`streamlit run app/Home.py`). Routes between the pages with
st.navigation and draws the dataset picker that every page shares; landing.py is the home page."""

import streamlit as st

from datasets_ui import dataset_sidebar
from registry import STAGES

st.set_page_config(page_title="makemore playground", page_icon=":material/school:", layout="wide")

navigation = st.navigation({
    "": [st.Page("landing.py", title="Home", icon=":material/home:", default=True)],
    "Stages": [st.Page(s.page, title=s.title, icon=s.icon) for s in STAGES],
})
dataset_sidebar()
navigation.run()
