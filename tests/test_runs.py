"""The one run type (makemore.runs.Run): its cache key is the one the shipped files are named by, its
plain-dict form round-trips exactly (through JSON too) and refuses what is not a run, its link opens
the page on the same run; one `finished` on a job; and the one helper that trains a page's missing
runs, under AppTest on the RNN & GRU page and the Transformer page."""

import dataclasses
import json
import threading
import time
from urllib.parse import parse_qs

import pytest

from test_app import open_app
from test_app_mlp import fresh_app  # noqa: F401  (fresh_app: autouse, a clean cache)
from test_app_recurrent import COMPARE, data_of, short_defaults  # noqa: F401  (short_defaults: a fixture)
from test_app_transformer import two_steps  # noqa: F401  (a fixture)
from kit import links, training_ui  # noqa: E402  (on sys.path through test_app_mlp: the app's own modules)
from kit.urlstate import parse_query  # noqa: E402
from training import shared  # noqa: E402

from makemore.serving.cache import DiskCache, load_or_train
from makemore.serving.checkpoint import cache_key
from makemore.serving.jobs import DONE, FAILED, RUNNING, STOPPED, TrainingJob
from makemore.models import MODELS
from makemore.models.mlp import MLPConfig
from makemore.models.transformer import TransformerConfig
from makemore.serving.pretrain import shipped_runs
from makemore.runs import Run
from makemore.train import TrainConfig, TrainResult


def registered_runs() -> list[tuple[str, Run]]:
    """Every model's default, lecture and preset runs, named for a test id."""
    return [(f"{name} {why}", run) for name, spec in MODELS.items() for why, run in spec.runs().items()]


RUNS = registered_runs()
IDS = [name for name, _ in RUNS]


# --- the key -------------------------------------------------------------------------------------

@pytest.mark.parametrize("run", [run for _, run in RUNS], ids=IDS)
def test_a_runs_key_is_the_cache_key_of_its_three_parts(run, tiny_dataset):
    for fingerprint in (tiny_dataset.fingerprint, "fp"):
        assert run.key(fingerprint) == cache_key(fingerprint, run.model_name, run.model_config, run.train_config)
    assert run.key(tiny_dataset) == run.key(tiny_dataset.fingerprint)


def test_the_specs_runs_are_what_the_registry_says():
    for name, spec in MODELS.items():
        assert spec.name == name
        assert spec.default_run() == Run(name, spec.config(), TrainConfig(**spec.train_defaults))
        if spec.lecture is not None:
            assert spec.lecture_run() == Run(name, dataclasses.replace(spec.config(), **spec.lecture.model),
                                             TrainConfig(**spec.lecture.train))
        for preset_name, preset in spec.presets.items():
            assert spec.preset_run(preset_name) == spec.preset_run(preset) == \
                Run(name, preset.config, TrainConfig(**{**spec.train_defaults, **preset.train}))
    # every shipped run is one of them
    registered = {run for _, run in RUNS}
    assert {shipped.run for shipped in shipped_runs()} <= registered


def test_a_run_is_hashable_and_frozen():
    run = MODELS["mlp"].default_run()
    assert {run: 1}[MODELS["mlp"].default_run()] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.model_name = "gru"


def test_a_run_refuses_parts_that_do_not_belong_together():
    with pytest.raises(ValueError, match="unknown model 'lstm'"):
        Run("lstm", MLPConfig(), TrainConfig())
    with pytest.raises(ValueError, match="a mlp run needs a MLPConfig, not a TransformerConfig"):
        Run("mlp", TransformerConfig(), TrainConfig())
    with pytest.raises(ValueError, match="TrainConfig, not a dict"):
        Run("mlp", MLPConfig(), {"max_steps": 10})


# --- the plain-dict form -------------------------------------------------------------------------

@pytest.mark.parametrize("run", [run for _, run in RUNS], ids=IDS)
def test_the_plain_dict_round_trips_exactly_also_through_json(run):
    d = run.to_dict()
    assert set(d) == {"model", "config", "training"} and d["model"] == run.model_name
    assert Run.from_dict(d) == run
    again = Run.from_dict(json.loads(json.dumps(d)))
    assert again == run and again.key("fp") == run.key("fp")
    # the very values: a float stays a float, a bool a bool
    for part, config in (("config", run.model_config), ("training", run.train_config)):
        for name, value in dataclasses.asdict(config).items():
            assert type(again.to_dict()[part][name]) is type(value) and again.to_dict()[part][name] == value


def test_a_float_written_as_an_integer_reads_back_as_the_float_and_keeps_the_key():
    run = Run("mlp", MLPConfig(), TrainConfig(lr=1.0, max_steps=10))
    d = run.to_dict()
    d["training"]["lr"] = 1  # as some JSON writers put 1.0
    assert Run.from_dict(d) == run and type(Run.from_dict(d).train_config.lr) is float
    assert Run.from_dict(d).key("fp") == run.key("fp")


def test_a_dict_that_leaves_fields_out_takes_their_defaults():
    assert Run.from_dict({"model": "mlp"}) == Run("mlp", MLPConfig(), TrainConfig())
    assert Run.from_dict({"model": "mlp", "training": {"max_steps": 5}}).train_config == TrainConfig(max_steps=5)


@pytest.mark.parametrize("bad, message", [
    ([1, 2], "a run is a dict with model, config and training, not a list"),
    ({"model": "lstm"}, "unknown model 'lstm'"),
    ({}, "a run names its model: one of"),
    ({"model": "mlp", "owner": "ada"}, "a run has no part named 'owner'"),
    ({"model": "mlp", "config": {"n_hiden": 64}}, "the mlp settings have no field named 'n_hiden'"),
    ({"model": "mlp", "config": [64]}, "the mlp settings must be a dict of fields, not a list"),
    ({"model": "mlp", "config": {"n_hidden": "64"}}, "the mlp settings: n_hidden must be an integer, not '64'"),
    ({"model": "mlp", "config": {"n_hidden": 64.0}}, "n_hidden must be an integer, not 64.0"),
    ({"model": "mlp", "config": {"n_hidden": True}}, "n_hidden must be an integer, not True"),
    ({"model": "mlp-bn", "config": {"batchnorm": 1}}, "batchnorm must be true or false, not 1"),
    ({"model": "mlp", "training": {"lr": "fast"}}, "the training settings: lr must be a number, not 'fast'"),
    ({"model": "mlp", "training": {"optimizer": "adam"}}, "the training settings are not valid: unknown optimizer"),
    ({"model": "mlp", "training": {"lr": -1.0}}, "the learning rate must be a positive number"),
    ({"model": "transformer", "config": {"n_head": 5}}, "the transformer settings are not valid: 5 heads"),
])
def test_a_bad_dict_says_what_is_wrong(bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Run.from_dict(bad)


# --- finished --------------------------------------------------------------------------------------

def result() -> TrainResult:
    return TrainResult(params=1, steps=1, seconds=0.1, train_loss=1.0, val_loss=1.0, test_loss=1.0)


def test_a_job_is_finished_when_done_with_a_result_and_only_then(tiny_dataset):
    run = Run("mlp", MLPConfig(), TrainConfig(max_steps=1))
    job = TrainingJob(run.key(tiny_dataset), tiny_dataset, run)
    assert (job.model_name, job.model_config, job.train_config, job.run) == \
        (run.model_name, run.model_config, run.train_config, run)
    assert not job.finished  # queued
    for status, with_result, finished in ((RUNNING, False, False), (DONE, False, False), (DONE, True, True),
                                          (STOPPED, True, False), (FAILED, False, False)):
        job.status, job.result = status, result() if with_result else None
        assert job.finished is finished, (status, with_result)


# --- the link parameters -------------------------------------------------------------------------

LINKED = [(name, run) for name, run in RUNS if run.model_name in links.PAGES]


def page_settings(model_name: str) -> list:
    """The URL settings of the page a model's links open, as urlstate checks them."""
    page = links.PAGES[model_name]
    return ([f.url_setting() for f in page.fields]
            + training_ui.training_settings(page.training, MODELS[model_name].fast_training()))


@pytest.mark.parametrize("run", [run for _, run in LINKED], ids=[name for name, _ in LINKED])
def test_every_registered_run_of_a_page_has_a_link_whose_parameters_the_page_accepts(run):
    link = links.run_link(run)
    assert link.page == links.PAGES[run.model_name].page
    # "Recipe details" holds the text its radio shows, which urlstate's setting for it does not list
    params = {k: v for k, v in link.params.items()
              if k not in links.PAGES[run.model_name].fixed and not k.endswith("_details")}
    values, problems, unknown = parse_query(params, page_settings(run.model_name))
    assert problems == [] and unknown == [], (problems, unknown)
    assert all(isinstance(v, str) for v in link.params.values())
    assert parse_qs(link.query) == {k: [v] for k, v in link.params.items()}


def test_a_models_defaults_link_to_its_page_with_nothing_to_set():
    assert links.run_link(MODELS["mlp"].default_run()) == links.Link("stages/mlp.py", {})
    assert links.run_link(MODELS["gru"].default_run()) == links.Link("stages/recurrent.py", {"rec_cell": "GRU"})


def test_a_run_no_page_can_set_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="no page sets a bow run"):
        links.run_link(MODELS["bow"].default_run())
    with pytest.raises(ValueError, match="no widget for block_size"):
        links.run_link(Run("mlp-bn", dataclasses.replace(MODELS["mlp-bn"].config(), block_size=5), TrainConfig()))
    with pytest.raises(ValueError, match="has no 0.0123"):
        links.run_link(Run("mlp", MLPConfig(), TrainConfig(lr=0.0123)))
    with pytest.raises(ValueError, match="lr_floor"):
        links.run_link(Run("mlp", MLPConfig(), dataclasses.replace(MODELS["mlp"].fast_training(), lr_floor=0.5)))


BIGRAM_RUNS = {"counts": MODELS["bigram"].default_run(), "network": MODELS["bigram-nn"].default_run(),
               "lecture": MODELS["bigram-nn"].lecture_run(),
               "own": Run("bigram-nn", MODELS["bigram-nn"].config(),
                          links.bigram_training("sgd", 10.0, 30, 0.01, 7))}


@pytest.mark.parametrize("run", BIGRAM_RUNS.values(), ids=BIGRAM_RUNS.keys())
def test_a_bigram_run_links_to_the_bigram_page_with_parameters_it_accepts(run):
    link = links.run_link(run)
    assert link.page == "stages/bigram.py"
    values, problems, unknown = parse_query(link.params, links.bigram_settings())
    assert problems == [] and unknown == [], (problems, unknown)


def test_a_bigram_training_the_page_cannot_set_is_refused():
    run = MODELS["bigram-nn"].default_run()
    with pytest.raises(ValueError, match="learning rate"):
        links.run_link(dataclasses.replace(run, train_config=dataclasses.replace(run.train_config, lr=0.0123)))
    with pytest.raises(ValueError, match="cannot set this training"):
        links.run_link(dataclasses.replace(run, train_config=dataclasses.replace(run.train_config, batch_size=32)))


def test_opening_a_bigram_network_runs_link_gives_the_page_of_the_same_run(monkeypatch):
    runs = []
    original = shared.trained

    def spy(dataset, run):
        runs.append(run)
        return original(dataset, run)

    monkeypatch.setattr(shared, "trained", spy)
    own = BIGRAM_RUNS["own"]
    link = links.run_link(own)
    assert link.params == {"bigram_optimizer": "SGD (the lecture's)", "bigram_lr": "10.0", "bigram_steps": "30",
                           "bigram_wd": "0.01", "bigram_seed": "7"}
    open_app(link.page, link.params)
    assert runs[-1] == own


@pytest.fixture
def asked(monkeypatch):
    """The runs the pages' trained_live is asked for: the run a page shows, or would train."""
    runs = []
    original = training_ui.trained_live

    def spy(board, dataset, run, *args, **kwargs):
        runs.append((dataset, run))
        return original(board, dataset, run, *args, **kwargs)

    monkeypatch.setattr(training_ui, "trained_live", spy)
    return runs


LINK_CHECKS = {"mlp lecture": MODELS["mlp"].lecture_run(), "mlp-bn deep": MODELS["mlp-bn"].preset_run("deep"),
               "rnn lecture": MODELS["rnn"].lecture_run(), "gru larger": MODELS["gru"].preset_run("larger"),
               "wavenet longer": MODELS["wavenet"].preset_run("longer"),
               "transformer gpt": MODELS["transformer"].preset_run("gpt"),
               "transformer lecture": MODELS["transformer"].lecture_run(),
               "mlp own": Run("mlp", MLPConfig(n_hidden=64, init="naive"),
                              dataclasses.replace(MODELS["mlp"].fast_training(), weight_decay=0.01, keep_best=True,
                                                  seed=7, lr=0.003))}


@pytest.mark.parametrize("run", LINK_CHECKS.values(), ids=LINK_CHECKS.keys())
def test_opening_a_runs_link_gives_the_page_of_the_same_run(run, asked):
    link = links.run_link(run)
    open_app(link.page, link.params)
    (dataset, shown), = asked[-1:]
    assert shown == run and shown.key(dataset) == run.key(dataset)


# --- train what is missing -------------------------------------------------------------------------

def finish_all(at):
    """Wait for every training on the board, watching all of them at once (as the page's views do:
    a job nobody looks at for a while stops itself), then draw the page again."""
    deadline = time.monotonic() + 300
    jobs = list(shared.job_board()._jobs.values())
    while not all(job.wait(0) for job in jobs):
        for job in jobs:
            job.seen()
        assert time.monotonic() < deadline, "training did not finish"
        time.sleep(0.5)
    assert all(job.status == DONE for job in jobs), [job.error or job.stop_reason for job in jobs]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def cache_now(run: Run, dataset) -> None:
    """Train a run into the app's disk cache, as another visitor (or the CLI) would have."""
    load_or_train(dataset, run, cache=DiskCache())


def test_the_recurrent_page_trains_exactly_the_missing_comparison_runs_with_progress(short_defaults):  # noqa: F811
    at = open_app("stages/recurrent.py")
    board = shared.job_board()
    at.button(key="rnn_train").click().run()
    at = finish_all(at)
    dataset = next(iter(board._jobs.values())).dataset
    cache_now(MODELS["mlp"].default_run(), dataset)  # one of the three is trained already
    at.run()
    label = at.button(key="rec_compare_train").label
    assert "GRU (its defaults)" in label and "WaveNet (lecture 5)" in label and "MLP" not in label
    before, jobs_before = board.trainings_started, set(board._jobs)
    at.button(key="rec_compare_train").click().run()
    assert not at.exception
    assert board.trainings_started == before + 2
    assert set(board._jobs) - jobs_before == {MODELS[name].default_run().key(dataset) for name in ("gru", "wavenet")}
    assert any(c.value.startswith("Training **") for c in at.caption) or at.get("progress"), "no progress shown"
    at = finish_all(at)
    assert all(b.key != "rec_compare_train" for b in at.button)
    assert {"GRU (its defaults)", "MLP (lecture 2)", "WaveNet (lecture 5)"} <= set(data_of(at, COMPARE)["model"])


def test_the_transformer_page_trains_exactly_the_missing_steps_of_its_path(two_steps):  # noqa: F811
    at = open_app("stages/transformer.py")
    board = shared.job_board()
    board._slots = threading.Semaphore(1)  # one core for these tests
    at.button(key="tf_preset_bow").click().run()
    at = finish_all(at)
    dataset = next(iter(board._jobs.values())).dataset
    cache_now(MODELS["bow"].default_run(), dataset)  # makemore.py's BoW: trained by someone else
    at.run()
    assert at.button(key="tf_path_train").label.startswith("Train the 1 not trained yet")
    before, jobs_before = board.trainings_started, set(board._jobs)
    at.button(key="tf_path_train").click().run()
    assert not at.exception
    assert board.trainings_started == before + 1
    assert set(board._jobs) - jobs_before == {MODELS["transformer"].preset_run("one-head").key(dataset)}
    assert any("Training **2 · One head**" in c.value for c in at.caption)  # its live view
    at = finish_all(at)
    path = next(d.value for d in at.dataframe if "what it changes" in d.value.columns)
    assert path["val loss"].notna().all()
