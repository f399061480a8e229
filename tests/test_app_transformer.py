"""The Transformer page under AppTest: its settings and their link, heads that do not divide the
embedding size, a short training with its loss chart, "the trick" (mask, scores, weights), every
block's and head's attention and the likeliest next characters for a typed name, names it cannot
read, and the lecture's path: a preset with its recipe, its uniform weights, the table of steps.

The default models do not ship here (MAKEMORE_SHIPPED_DIR=""): the tests train small nets for 500
steps, and keep only the path's two cheapest steps, each a few seconds."""

import threading

import pytest
from streamlit.testing.v1 import AppTest

from test_app import charts, metric, open_app, titles
from test_app_mlp import chart_data, finish_trainings, fresh_app, only_job  # noqa: F401  (fresh_app: autouse)
from training import shared  # noqa: E402  (on sys.path through test_app_mlp: the app's own module)

from makemore.models import MODELS

PAGE = "stages/transformer.py"
LOSS = "Loss during training (train averaged, log scale)"
MASK = "1 · The mask"
NEXT = "The likeliest next characters after each position"
PATH = "Validation loss along the lecture's path"
HEADS_1, HEADS_2 = "Block 1: each head's attention weights", "Block 2: each head's attention weights"


def open_page(query: dict | None = None) -> AppTest:
    return open_app(PAGE, query)


def shown(at: AppTest) -> list[str]:
    return titles(charts(at))


def data_of(at: AppTest, title: str):
    return chart_data(at, shown(at).index(title))


def name_box(at: AppTest):
    return at.text_input(key="tf_name")


def net(at: AppTest) -> tuple[int, int, int]:
    """Blocks, heads, embedding size."""
    return at.slider(key="tf_layers").value, at.slider(key="tf_heads").value, at.slider(key="tf_embd").value


def train_small(at: AppTest) -> AppTest:
    """Embeddings of 16 (4 heads of 4), 500 steps: a few seconds."""
    at.slider(key="tf_embd").set_value(16).run()
    at.select_slider(key="tf_steps").set_value(500).run()
    at.button(key="tf_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return finish_trainings(at)


def test_page_opens_with_the_small_gpt_its_switches_and_estimate():
    at = open_page()
    assert at.title[0].value == "Transformer: from averaging to a small GPT"
    assert net(at) == (2, 4, 48)
    assert at.slider(key="tf_dropout").value == 0.0
    assert all(at.toggle(key=k).value for k in ("tf_attention", "tf_mlp", "tf_residual", "tf_layernorm"))
    assert any("**60,843 parameters**" in c.value for c in at.caption)
    assert [b.label for b in at.button][:7] == ["1 · Bag of words", "2 · One head", "3 · Multi-head",
                                                 "4 · + Feed-forward", "5 · + Residual", "6 · + LayerNorm",
                                                 "7 · Small GPT"]
    assert at.button(key="tf_train").label.startswith("Train (about")
    assert not at.get("vega_lite_chart")  # nothing trained yet


def test_heads_that_do_not_divide_the_embedding_size_get_a_message_not_a_traceback():
    at = open_page()
    at.slider(key="tf_heads").set_value(5).run()
    assert not at.exception
    assert any("5 heads do not divide the embedding size 48" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "tf_train"]  # nothing to train
    at.toggle(key="tf_attention").set_value(False).run()  # the average has no heads to divide
    assert not at.error and at.button(key="tf_train")
    assert any("there are no heads" in c.value for c in at.caption)

    linked = open_page({"tf_heads": "7", "tf_embd": "64"})
    assert any("7 heads do not divide the embedding size 64" in e.value for e in linked.error)


def test_a_link_reopens_its_settings():
    at = open_page({"tf_layers": "3", "tf_heads": "2", "tf_embd": "32", "tf_dropout": "0.1", "tf_residual": "false",
                    "tf_steps": "1000", "tf_lr": "0.003", "tf_seed": "7", "tf_name": "ava"})
    assert net(at) == (3, 2, 32)
    assert at.slider(key="tf_dropout").value == pytest.approx(0.1) and at.toggle(key="tf_residual").value is False
    assert at.select_slider(key="tf_steps").value == 1000 and at.select_slider(key="tf_lr").value == 0.003
    assert at.number_input(key="tf_seed").value == 7
    assert not at.warning  # the name too is a setting of the page (its box shows once a model is trained)


@pytest.mark.parametrize("query", [{"tf_layers": "7"}, {"tf_heads": "0"}, {"tf_mlp": "maybe"}, {"tf_embd": "x"}])
def test_a_bad_link_falls_back_with_a_notice(query):
    at = open_page(query)
    assert any("could not be used" in w.value for w in at.warning)
    assert net(at)[:2] == (2, 4)


def test_each_step_sets_its_network_and_recipe_trains_at_once_and_shows_the_code_it_adds():
    at = open_page()
    board = shared.job_board()
    at.button(key="tf_preset_gpt").click().run()
    assert net(at) == (4, 4, 64) and at.slider(key="tf_dropout").value == pytest.approx(0.1)
    assert at.select_slider(key="tf_steps").value == 3500 and at.select_slider(key="tf_lr").value == 0.006
    assert any(i.value.startswith("**Small GPT.**") and "weight decay 0.1" in i.value for i in at.info)
    assert any("nn.Dropout(config.dropout)" in c.value for c in at.code)  # the code this step adds
    gpt = only_job()
    assert (gpt.train_config.max_steps, gpt.train_config.weight_decay) == (3500, 0.1)  # its own recipe
    gpt.stop()
    assert gpt.wait(30)

    at.button(key="tf_preset_residual").click().run()
    assert net(at) == (4, 4, 32) and at.toggle(key="tf_residual").value and not at.toggle(key="tf_layernorm").value
    assert any("x = x + self.mix(self.ln1(x))" in c.value for c in at.code)
    residual = next(j for j in board._jobs.values() if j is not gpt)
    assert (residual.train_config.max_steps, residual.train_config.weight_decay) == (1500, 0.01)
    assert board.trainings_started == 2


def test_a_short_training_shows_the_trick_every_head_and_the_next_characters():
    at = train_small(open_page())
    assert float(metric(at, "val loss")) < 2.7  # well below the uniform guess, log 27 = 3.30
    where = " · block 1, head 1"
    assert shown(at) == [LOSS, MASK, "2 · The scores" + where, "3 · The weights" + where, HEADS_1, HEADS_2, NEXT]
    assert any("samples are new words" in c.value for c in at.caption)

    mask = data_of(at, MASK)  # "emma" after the start token: 5 positions
    assert len(mask) == 25 and mask["masked"].sum() == 10
    assert (mask["masked"] == (mask["key"] > mask["query"])).all()
    weights = data_of(at, "3 · The weights" + where)
    sums = weights[~weights["masked"]].groupby("query")["value"].sum()
    assert sums.round(5).eq(1).all() and len(sums) == 5
    assert list(weights.drop_duplicates("key").sort_values("key")["key_char"]) == [".", "e", "m", "m", "a"]
    assert weights.loc[weights["masked"], "value"].isna().all()
    heads = data_of(at, HEADS_1)
    assert sorted(heads["head"].unique()) == ["head 1", "head 2", "head 3", "head 4"] and len(heads) == 4 * 15
    top = data_of(at, NEXT)
    assert len(top) == 5 * 5 and list(top.drop_duplicates("position")["actual"]) == ["e", "m", "m", "a", "."]

    at.radio(key="tf_trick_layer_2").set_value(2).run()
    at.radio(key="tf_trick_head_4").set_value(3).run()
    assert shown(at)[2] == "2 · The scores · block 2, head 3"

    path = next(d.value for d in at.dataframe if "what it changes" in d.value.columns)
    assert len(path) == 8 and path["val loss"].isna().all()  # seven steps and makemore.py's BoW, none trained
    assert at.button(key="tf_path_train").label.startswith("Train the 8 not trained yet")


def test_names_the_model_cannot_read_get_a_message():
    at = train_small(open_page({"tf_name": "zoe"}))
    assert len(data_of(at, MASK)) == 4 * 4  # the link's name: the start token and three characters
    for typed, message in [("", "Type a word"), ("Emma", "try `emma`"), ("em3ma", "`3` is not among the characters"),
                           ("a" * 33, "That is 33 characters"), ("em.ma", "marks where words start and end"),
                           ("e m", "a space is not among"),
                           ("Zoë", "`Z`, `ë` are not among the characters"), ("Zoë", "try `zoe`")]:
        name_box(at).set_value(typed).run()
        assert not at.exception, typed
        notes = [m.value for m in [*at.warning, *at.info]]
        assert any(message in n for n in notes), (typed, notes)
        assert shown(at) == [LOSS], typed  # no trick, no attention maps
    name_box(at).set_value("  " + "z" * 32 + " ").run()  # trimmed; the longest word the block holds
    assert not at.exception
    assert len(data_of(at, MASK)) == 33 * 33


@pytest.fixture
def two_steps(monkeypatch):
    """The path cut to its two cheapest steps, makemore.py's BoW shortened to 500 steps, one training at a time."""
    presets = MODELS["transformer"].presets
    for name in list(presets)[2:]:
        monkeypatch.delitem(presets, name)
    monkeypatch.setitem(MODELS["bow"].train_defaults, "max_steps", 500)


def test_the_bag_of_words_step_trains_with_its_recipe_and_the_table_fills_in(two_steps):
    at = open_page()
    board = shared.job_board()
    board._slots = threading.Semaphore(1)  # one core for these tests
    at.button(key="tf_preset_bow").click().run()
    assert at.toggle(key="tf_attention").value is False and at.slider(key="tf_embd").value == 32
    assert at.select_slider(key="tf_steps").value == 1500 and at.select_slider(key="tf_lr").value == 0.005
    assert board.trainings_started == 1  # a step trains at once
    at = finish_trainings(at)
    assert any(i.value.startswith("**Bag of words.**") for i in at.info)
    assert any("class CausalAverage" in c.value for c in at.code)  # the code this step adds
    assert shown(at) == [LOSS, MASK, "2 · The scores · block 1", "3 · The weights · block 1",
                         "Block 1: the average (no heads)", NEXT]
    scores = data_of(at, "2 · The scores · block 1").dropna(subset=["value"])
    assert (scores["value"] == 0).all()
    weights = data_of(at, "3 · The weights · block 1").dropna(subset=["value"])
    assert (weights["value"] - 1 / (weights["query"] + 1)).abs().max() < 1e-6  # the plain average

    path = next(d.value for d in at.dataframe if "what it changes" in d.value.columns)
    assert list(path["preset"]) == ["1 · Bag of words", "2 · One head", "makemore.py's BoW"]
    assert path["val loss"].notna().tolist() == [True, False, False]
    at.button(key="tf_path_train").click().run()
    assert not at.exception
    at = finish_trainings(at)
    path = next(d.value for d in at.dataframe if "what it changes" in d.value.columns)
    assert path["val loss"].notna().all() and (path["val loss"] < 3.0).all()
    losses = data_of(at, PATH)
    assert len(losses) == 3 and losses["highlight"].sum() == 1
    assert all(b.key != "tf_path_train" for b in at.button)  # nothing left to train


def test_a_list_that_cannot_spell_the_default_name_shows_one_of_its_words():
    words = ["bob", "rob", "tracy", "lily", "ruby", "holly", "polly", "kitty", "sally", "sol", "tony", "rory", "olga",
             "ivan", "hugo", "otto", "igor", "boris", "luca", "carl"]  # no "e": "emma" cannot be spelt
    at = open_page()
    at.selectbox(key="dataset_choice").set_value("upload").run()
    at.file_uploader(key="dataset_upload").set_value(("no-e.txt", "\n".join(words).encode(), "text/plain")).run()
    at.switch_page(PAGE).run()
    at = train_small(at)
    shown_name = next(c.value for c in at.caption if "cannot spell “emma”" in c.value).split("“")[2].split("”")[0]
    assert shown_name in words
    assert not [w for w in at.warning if w.icon == ":material/keyboard:"]  # the shown name is readable
    # (20 words: the model memorises them, and the page says so: a warning of another kind)
    assert len(data_of(at, MASK)) == (len(shown_name) + 1) ** 2
