"""Buttons that set widgets (recipes, presets, the sweep's "Use … for training") leave no Session
State warning in the server log: a widget set through st.session_state is drawn without a default
of its own (model_controls.initial)."""

import logging
import types

import pytest
from streamlit.elements.lib import policies

from test_app_mlp import fresh_app, open_mlp  # noqa: F401  (fresh_app: autouse, a clean cache and job board)
from test_app import open_app


@pytest.fixture
def server_warnings(monkeypatch):
    """The warnings Streamlit's widget checks log (their logger does not propagate to `streamlit`'s).
    Streamlit checks for a widget set twice only when a server runtime exists, and warns once a
    process: under AppTest, pretend there is one, and warn each time."""
    monkeypatch.setattr(policies, "runtime", types.SimpleNamespace(exists=lambda: True))
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    caught = []

    class Catch(logging.Handler):
        def emit(self, record):
            policies._shown_default_value_warning = False
            caught.append(record.getMessage())

    handler = Catch(level=logging.WARNING)
    logger = policies._LOGGER
    logger.addHandler(handler)
    yield caught
    logger.removeHandler(handler)


def session_state_warnings(caught: list[str]) -> list[str]:
    return [m for m in caught if "Session State" in m]


def test_recipe_buttons_and_the_sweeps_rate_set_widgets_without_a_warning(server_warnings):
    at = open_mlp()
    for label in ("Lecture 2's recipe", "Fast recipe"):
        next(b for b in at.button if b.label == label).click().run()
        assert not at.exception, [e.value for e in at.exception]
    assert at.select_slider(key="mlp_lr").value == 0.01  # the fast recipe's: the button did set it
    at.button(key="mlp_sweep_run").click().run()
    at.button(key="mlp_sweep_use").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert session_state_warnings(server_warnings) == []


def test_preset_buttons_and_the_bigram_optimizer_set_widgets_without_a_warning(server_warnings):
    at = open_app("stages/batchnorm.py")
    at.button(key="bn_preset_naive").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at = open_app("stages/bigram.py")
    at.radio(key="bigram_optimizer").set_value("adamw").run()
    assert not at.exception, [e.value for e in at.exception]
    assert session_state_warnings(server_warnings) == []
