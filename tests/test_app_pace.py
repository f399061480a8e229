"""A page's estimate on a server whose recent trainings took longer than theirs (issue 34, item 10):
the Train button and the settings' caption show the scaled estimate and say why."""

import re
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app"
sys.path.insert(0, str(APP))
from training import shared  # noqa: E402  (the app's module: the board the pages use in this process)


@pytest.fixture(autouse=True)
def fresh_app(monkeypatch, tmp_path):
    monkeypatch.setenv("MAKEMORE_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP / "Home.py"), default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def cost_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "parameters**" in c.value)


def seconds_in(text: str) -> int:
    return int(re.search(r"about \**(\d+) s", text).group(1))


@pytest.mark.parametrize("page, key", [("stages/mlp.py", "mlp_train"), ("stages/wavenet.py", "wn_train")])
def test_the_train_button_shows_the_estimate_scaled_by_the_server_s_recent_trainings(page, key):
    at = open_page(page)
    plain = at.button(key=key)
    assert re.fullmatch(r"Train \(about \d+ s\)", plain.label) and not plain.help
    estimate = seconds_in(plain.label)
    assert "than usual" not in cost_caption(at) and seconds_in(cost_caption(at)) == estimate

    board = shared.job_board()
    board.pace.observe(estimate=33.0, seconds=62.0)  # the busy server: two trainings
    board.pace.observe(estimate=35.0, seconds=60.0)
    factor = board.pace.factor()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    scaled = at.button(key=key)
    assert scaled.label.endswith(" s, this server is slower than usual right now)")
    assert abs(seconds_in(scaled.label) - estimate * factor) <= factor  # the page rounded its estimate first
    assert scaled.help == "This server is slower than usual right now: recent trainings took 1.8× their estimate."
    caption = cost_caption(at)
    assert seconds_in(caption) == seconds_in(scaled.label)
    assert ("on 2 CPU cores (this server is slower than usual right now: recent trainings took 1.8× their "
            "estimate)") in caption
