"""makemore playground: the entry point (`streamlit run app/Home.py`). Routes between the pages with
st.navigation and draws the dataset picker that every page shares; landing.py is the home page.
Its st.App (at the end) starts the server's warm-up when the server starts."""

import sys
from contextlib import asynccontextmanager
from pathlib import Path

# The makemore package sits beside app/. `streamlit run app/Home.py` puts only app/ on the path, and
# Streamlit Community Cloud installs app/requirements.txt, not this repository: so put it there.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.append(ROOT)
FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"


def run_app() -> None:
    import streamlit as st

    from kit import rooms_ui
    from kit.datasets_ui import dataset_sidebar
    from registry import STAGES
    from training import warmup

    # A file, not ":material/school:": Streamlit makes a material page icon the browser's favicon by
    # linking it on fonts.gstatic.com, fetched on every page (an offline classroom logs each as an error).
    st.set_page_config(page_title="makemore playground", page_icon=str(FAVICON), layout="wide")
    class_room = st.Page(rooms_ui.CLASS_ROOM_PAGE, title="Class room", icon=":material/groups:")
    navigation = st.navigation({
        "": [st.Page("landing.py", title="Home", icon=":material/home:", default=True)],
        "Stages": [st.Page(s.page, title=s.title, icon=s.icon) for s in STAGES],
        "Compare": [st.Page("compare.py", title="Compare", icon=":material/leaderboard:")],
        "Class": [class_room],
    })
    with warmup.visiting():  # the warm-up waits while a visitor's page runs
        warmup.start()  # once per server process, in the background: see warmup.py
        rooms_ui.arrive(class_room, navigation)  # a join or teacher link, a returning student's cookie
        room = rooms_ui.room_sidebar(class_room)
        dataset_sidebar(None if room is None else lambda: rooms_ui.room_words(room))
        navigation.run()


@asynccontextmanager
async def warm_up_at_start(_app):
    """The server's start: begin the work every page shares (training/warmup.py) while the first
    browser is still loading Streamlit's front end, not on its first script run. Its stop (Ctrl+C):
    end the warm-up before the interpreter exits under it."""
    from training import warmup

    warmup.start()
    try:
        yield
    finally:
        warmup.stop()


# Streamlit runs this file as __main__ for every visitor. `streamlit run app/Home.py` finds the
# st.App below and imports the file first as the module "Home", to serve it. Every training process
# (makemore.serving.jobs starts them with multiprocessing) imports the file that is __main__ once
# more, as __mp_main__: there it must neither load the app (streamlit, altair, pandas: CPU and
# memory for each training) nor draw it.
if __name__ == "__main__":
    run_app()
elif __name__ == Path(__file__).stem:
    import streamlit as st

    app = st.App(Path(__file__).name, lifespan=warm_up_at_start)
