"""The RNN & GRU page under AppTest: each cell's settings (and their link), short trainings with the
loss chart, the hidden state, the likeliest next characters and the GRU's gates for a typed word,
bad typed words, the gradient norms of both cells, and the comparison with the other stages.

The default models do not ship here (MAKEMORE_SHIPPED_DIR=""), so the tests shorten every default
recipe this page trains or shows (RNN, GRU, MLP, WaveNet) to 500 steps: a few seconds each."""

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from test_app import charts, metric, open_app, titles
from test_app_mlp import chart_data, finish_trainings, fresh_app  # noqa: F401  (fresh_app: autouse, a clean cache)
from training import shared  # noqa: E402  (on sys.path through test_app_mlp: the app's own module)

from makemore.models import MODELS

PAGE = "stages/recurrent.py"
LOSS = "Loss during training (train averaged, log scale)"
HIDDEN = "Hidden state h_t after each character"
NEXT = "The likeliest next characters after each position"
UPDATE, RESET = "Update gate z_t: 1 keeps the old state", "Reset gate r_t: 0 lets the candidate ignore it"
GRADIENTS = "‖∂loss/∂h_t‖ at each position, for the word's last prediction"
COMPARE = "Validation loss of each stage's model"
SHORT = 500  # steps of every default recipe in these tests


@pytest.fixture
def short_defaults(monkeypatch):
    for name in ("rnn", "gru", "mlp", "wavenet"):
        monkeypatch.setitem(MODELS[name].train_defaults, "max_steps", SHORT)


def open_page(query: dict | None = None) -> AppTest:
    return open_app(PAGE, query)


def train(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return finish_trainings(at)


def shown(at: AppTest) -> list[str]:
    return titles(charts(at))


def data_of(at: AppTest, title: str) -> pd.DataFrame:
    return chart_data(at, shown(at).index(title))


def word_box(at: AppTest):
    return next(t for t in at.text_input if t.label == "A word to read")


def test_page_opens_on_the_rnn_with_its_settings_and_estimate():
    at = open_page()
    assert at.title[0].value == "Recurrent nets: RNN and GRU"
    assert at.radio(key="rec_cell").value == "RNN"
    assert at.slider(key="rnn_embd").value == 24 and at.slider(key="rnn_hidden").value == 128
    assert at.slider(key="rnn_layers").value == 1
    assert any("**23,843 parameters**" in c.value for c in at.caption)  # 27·24 + (24+128+2)·128 + 129·27
    assert at.button(key="rnn_train").label.startswith("Train (about")
    assert not at.get("vega_lite_chart")  # nothing trained yet


def test_each_cell_keeps_its_own_settings():
    at = open_page()
    at.slider(key="rnn_hidden").set_value(64).run()
    at.radio(key="rec_cell").set_value("GRU").run()
    assert at.slider(key="gru_hidden").value == 96  # the GRU's own default
    assert at.select_slider(key="gru_lr").value == 0.005
    assert at.button(key="gru_train")
    at.radio(key="rec_cell").set_value("RNN").run()
    assert at.slider(key="rnn_hidden").value == 64
    assert not at.exception


def test_makemore_recipe_and_the_larger_gru_set_their_settings():
    at = open_page()
    next(b for b in at.button if b.label == "makemore.py's recipe").click().run()
    assert at.slider(key="rnn_embd").value == 64 and at.slider(key="rnn_hidden").value == 64
    assert at.select_slider(key="rnn_steps").value == 10_000 and at.select_slider(key="rnn_batch").value == 32
    assert at.radio(key="rnn_details").value == "lecture"  # its weight decay and AdamW's beta2
    at.radio(key="rec_cell").set_value("GRU").run()
    at.button(key="gru_preset_larger").click().run()
    assert at.slider(key="gru_embd").value == 32 and at.slider(key="gru_hidden").value == 128
    assert at.select_slider(key="gru_batch").value == 128 and at.select_slider(key="gru_steps").value == 5000
    assert any(i.value.startswith("**A larger GRU**") for i in at.info)
    assert shared.job_board().trainings_started == 1  # a preset trains at once (stopped by the fixture)


def test_a_link_reopens_the_gru_with_its_settings():
    at = open_page({"rec_cell": "GRU", "gru_hidden": "64", "gru_layers": "2", "gru_embd": "16", "gru_steps": "1000",
                    "gru_lr": "0.003", "gru_seed": "7"})
    assert at.radio(key="rec_cell").value == "GRU"
    assert at.slider(key="gru_hidden").value == 64 and at.slider(key="gru_layers").value == 2
    assert at.slider(key="gru_embd").value == 16 and at.select_slider(key="gru_steps").value == 1000
    assert at.select_slider(key="gru_lr").value == 0.003 and at.number_input(key="gru_seed").value == 7
    assert not at.warning


@pytest.mark.parametrize("query", [{"rec_cell": "LSTM"}, {"rnn_hidden": "7"}, {"gru_layers": "3"}, {"rnn_embd": "x"}])
def test_a_bad_link_falls_back_with_a_notice(query):
    at = open_page(query)
    assert any("could not be used" in w.value for w in at.warning)
    assert at.radio(key="rec_cell").value == "RNN" and at.slider(key="rnn_hidden").value == 128


def test_the_rnn_trains_and_shows_its_state_predictions_gradients_and_comparison(short_defaults):
    at = train(open_page(), "rnn_train")
    assert float(metric(at, "val loss")) < 2.8  # well below the uniform guess, log 27 = 3.30
    assert shown(at) == [LOSS, HIDDEN, NEXT, GRADIENTS, COMPARE]
    assert any("samples are new words" in c.value for c in at.caption)

    hidden = data_of(at, HIDDEN)  # "isabella": the start token and eight characters, 128 units each
    assert len(hidden) == 128 * 9 and hidden["value"].between(-1, 1).all()
    assert "".join(hidden.drop_duplicates("position")["char"]) == ".isabella"
    top = data_of(at, NEXT)  # five candidates at each position, likeliest first
    assert len(top) == 9 * 5 and top.groupby("position")["prob"].apply(lambda p: p.is_monotonic_decreasing).all()
    assert "".join(top.drop_duplicates("position")["actual"]) == "isabella."
    assert any("The RNN has no gates" in c.value for c in at.caption)

    norms = data_of(at, GRADIENTS)  # the GRU is not trained yet: this model only, trained and at the start
    assert set(norms["model"]) == {"RNN (this page's model)"}
    assert set(norms["state"]) == {"trained", "at initialisation"} and (norms["norm"] > 0).all()
    assert at.button(key="rec_other_train").label.startswith("Train GRU (its defaults)")

    compared = data_of(at, COMPARE)
    assert set(compared["model"]) == {"RNN (this page's model)", "Bigram counts (lecture 1)"}
    assert "MLP (lecture 2)" in at.button(key="rec_compare_train").label


def test_the_gru_shows_its_gates_and_both_cells_gradients_and_every_stage(short_defaults):
    at = open_page()
    at.radio(key="rec_cell").set_value("GRU").run()
    at = train(at, "gru_train")
    assert shown(at) == [LOSS, HIDDEN, NEXT, UPDATE, RESET, GRADIENTS, COMPARE]
    for gate in (UPDATE, RESET):
        values = data_of(at, gate)
        assert len(values) == 96 * 9 and values["value"].between(0, 1).all()

    at = train(at, "rec_other_train")  # the RNN's defaults, for the gradient chart
    norms = data_of(at, GRADIENTS)
    assert set(norms["model"]) == {"GRU (this page's model)", "RNN (its defaults)"}
    assert len(norms) == 2 * 2 * 9  # two models, trained and at the start, nine positions
    fading = next(d.value for d in at.dataframe if "last ÷ first" in d.value.columns)
    assert len(fading) == 4 and (fading["last ÷ first"] > 0).all()

    at = train(at, "rec_compare_train")  # the MLP and WaveNet defaults
    compared = data_of(at, COMPARE)
    assert set(compared["model"]) == {"GRU (this page's model)", "RNN (its defaults)", "MLP (lecture 2)",
                                      "WaveNet (lecture 5)", "Bigram counts (lecture 1)"}
    assert (compared["val"] < 3.0).all() and compared["highlight"].sum() == 1
    assert all(b.key != "rec_compare_train" for b in at.button)  # nothing left to train


def test_typed_words_with_two_layers_and_words_it_cannot_read(short_defaults):
    at = open_page()
    at.slider(key="rnn_layers").set_value(2).run()
    at = train(at, "rnn_train")
    assert shown(at)[1:3] == [f"{HIDDEN} · layer 1", f"{HIDDEN} · layer 2"]

    word_box(at).set_value("ava").run()
    assert len(data_of(at, f"{HIDDEN} · layer 1")) == 128 * 4
    for typed, message in [("", "Type a word"), ("Emma", "try `emma`"), ("em3ma", "`3` is not among the characters"),
                           ("a" * 33, "That is 33 characters"), ("em.ma", "marks where words start and end"),
                           ("e m", "a space is not among")]:
        word_box(at).set_value(typed).run()
        assert not at.exception, typed
        notes = [m.value for m in [*at.warning, *at.info]]
        assert any(message in n for n in notes), (typed, notes)
        assert HIDDEN not in " ".join(shown(at))  # nothing of section 3 onwards
    word_box(at).set_value("  zoe ").run()  # trimmed
    assert len(data_of(at, f"{HIDDEN} · layer 2")) == 128 * 4
