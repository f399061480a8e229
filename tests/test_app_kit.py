"""The kit the training pages share (app/kit/: model_controls.py, training_ui.py, results.py,
presets.py, model_views.py; app/training/live.py): settings declared once in the model configs'
metadata, the CLI and the page finding the same cached model, honest failure messages, the queue,
the Bigram page's settings in the URL, and no page code written twice."""

import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch

from test_app import metric, open_app
from test_app_mlp import APP, fresh_app, open_mlp  # noqa: F401  (fresh_app: autouse, a clean cache and job board)
from kit import model_controls, presets, training_ui  # noqa: E402  (on sys.path through test_app_mlp: the app's own)
from kit.datasets_ui import load_builtin  # noqa: E402
from training import live, shared  # noqa: E402

from makemore import cli
from makemore.serving.cache import DiskCache, load_or_train
from makemore.serving.jobs import CRASHED, DIVERGED, FAILED, KILLED, QUEUED, RUNNING, STOPPED, TIMED_OUT, JobBoard, TrainingJob
from makemore.models import MODELS
from makemore.models.mlp import MLPConfig
from makemore.models.mlp_bn import PRESETS, MLPBNConfig
from makemore.train import TrainConfig
from makemore.runs import Run

PAGES = {"mlp": "stages/mlp.py", "mlp-bn": "stages/batchnorm.py"}
TRAIN_KEYS = {"mlp": "mlp_train", "mlp-bn": "bn_train"}


def names():
    return load_builtin("names.txt")  # the dataset the pages train on by default


def put_job(model_name: str, status: str, model_config=None, train_config=None, **fields) -> TrainingJob:
    """A job on the app's board for these settings (the model's defaults unless given), as if it
    had got that far."""
    board = shared.job_board()
    model_config = model_config or MODELS[model_name].config()
    train_config = train_config or TrainConfig(**MODELS[model_name].train_defaults)
    key = board.key(names(), Run(model_name, model_config, train_config))
    job = TrainingJob(key, names(), Run(model_name, model_config, train_config), estimate=fields.pop("estimate", None))
    job.status = status
    for name, value in fields.items():
        setattr(job, name, value)
    if status not in (QUEUED, RUNNING):
        job.ended.set()
    board._jobs[key] = job
    return job


def end(*jobs: TrainingJob) -> None:
    """Jobs put on the board by hand have no thread: finish them, so the fixture's wait returns."""
    board = shared.job_board()
    for job in jobs:
        job.status = STOPPED
        job.ended.set()
        if job in board._waiting:
            board._waiting.remove(job)


# --- each setting declared once ------------------------------------------------------------------

@pytest.mark.parametrize("model_name", ["mlp", "mlp-bn", "bigram"])
def test_every_config_field_has_its_ui_text_and_bounds_that_hold_its_default(model_name):
    for f in dataclasses.fields(MODELS[model_name].config):
        meta, default = f.metadata, f.default
        assert meta.get("label") and meta.get("help"), f.name
        if "choices" in meta:
            assert default in meta["choices"]
        elif "options" in meta:
            assert default in meta["options"]
            assert all(meta["min"] <= o <= meta["max"] for o in meta["options"])  # the CLI's bounds hold them
        elif not isinstance(default, bool):
            assert meta["min"] <= default <= meta["max"], f.name


@pytest.mark.parametrize("model_name, keys", [
    ("mlp", {"block_size": "mlp_block", "n_embd": "mlp_embd", "n_hidden": "mlp_hidden"}),
    ("mlp-bn", {"n_layers": "bn_layers", "n_hidden": "bn_hidden", "n_embd": "bn_embd"}),
])
def test_the_pages_sliders_and_links_take_their_bounds_from_the_config(model_name, keys):
    at = open_app(PAGES[model_name])
    fields = {f.name: f.metadata for f in dataclasses.fields(MODELS[model_name].config)}
    for name, key in keys.items():
        slider, meta = at.slider(key=key), fields[name]
        assert (slider.min, slider.max, slider.step, slider.label) == (meta["min"], meta["max"], meta["step"],
                                                                       meta["label"])
        setting = model_controls.model_setting(model_name, name, key=key).url_setting()
        assert setting.parse(str(meta["min"])) == meta["min"]
        with pytest.raises(ValueError):
            setting.parse(str(meta["min"] - 1))


def test_a_choice_shows_and_links_by_its_label_and_the_config_gets_its_value():
    init = model_controls.model_setting("mlp-bn", "init", prefix="bn")
    assert init.key == "bn_init"
    setting = init.url_setting()
    assert setting.default == "(5/3)/√fan_in (Kaiming)" and setting.parse("1/√fan_in (no gain)")
    with pytest.raises(ValueError):
        setting.parse("fan-in")  # the URL holds what the widget shows
    at = open_app(PAGES["mlp-bn"], {"bn_init": "randn (naive)"})
    assert at.selectbox(key="bn_init").value == "randn"  # the model's own name for it


def test_recipe_values_are_among_the_training_widgets_options():
    widgets = {"max_steps", "batch_size", "optimizer", "lr", "schedule", "seed"}  # what a recipe button sets
    for name in ("mlp", "mlp-bn"):
        spec = MODELS[name]
        assert set(spec.train_defaults) <= widgets and set(spec.lecture.train) <= widgets
        for config in (training_ui.fast_training(name), training_ui.lecture_training(name)):
            assert config.lr in training_ui.LEARNING_RATES and config.max_steps in training_ui.STEPS
            assert config.batch_size in training_ui.BATCH_SIZES


@pytest.mark.parametrize("model_name", ["mlp", "mlp-bn"])
def test_the_pages_default_training_is_exactly_the_clis(model_name):
    at = open_app(PAGES[model_name])
    at.button(key=TRAIN_KEYS[model_name]).click().run()
    job = next(iter(shared.job_board()._jobs.values()))
    job.stop()
    assert job.train_config == TrainConfig(**MODELS[model_name].train_defaults)
    assert job.model_config == MODELS[model_name].config()
    assert job.key == shared.job_board().key(names(), Run(model_name, MODELS[model_name].config(),
                                              cli.configs_from_args(cli.build_parser(model_name).parse_args(
                                                  ["train", "--model", model_name]))[1]))


def test_a_model_trained_by_the_cli_with_cache_opens_on_the_page_without_training(capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = cli.main(["train", "--model", "mlp", "--max-steps", "500", "--n-hidden", "64", "--cache", "--json"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    at = open_mlp({"mlp_steps": "500", "mlp_hidden": "64"})
    assert shared.job_board().trainings_started == 0
    assert metric(at, "val loss") == f"{summary['val_loss']:.4f}"
    assert "loaded from the cache" in next(m for m in at.metric if m.label == "trained in").help


# --- honest failures and the queue ---------------------------------------------------------------

FAILURES = {
    DIVERGED: ("the loss became nan at step 12", ["Lower the learning rate"]),
    CRASHED: ("the training process failed with RuntimeError: boom", ["fault in the playground", "Train again"]),
    KILLED: ("the training process was killed (SIGKILL), most likely because the server ran out of memory",
             ["ran out of memory", "smaller model or a smaller batch", "Train again"]),
    TIMED_OUT: ("the training ran for longer than the 600 s this server allows one training, and was ended",
                ["longer than the 600 s", "Train again"]),
}


@pytest.mark.parametrize("model_name", ["mlp", "mlp-bn"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_training_says_what_happened_and_blames_the_learning_rate_only_for_divergence(model_name, failure):
    error, phrases = FAILURES[failure]
    put_job(model_name, FAILED, failure=failure, error=error)
    at = open_app(PAGES[model_name])
    message = at.error[0].value
    assert all(p in message for p in phrases), message
    assert ("learning rate" in message) == (failure == DIVERGED)
    assert at.button(key=TRAIN_KEYS[model_name]).label.startswith("Train again")
    at.button(key=TRAIN_KEYS[model_name]).click().run()  # starts cleanly: a new job in the old one's place
    job = next(iter(shared.job_board()._jobs.values()))
    assert job.failure is None and job.status in (QUEUED, RUNNING)
    job.stop()


def test_a_waiting_training_shows_its_place_in_the_queue_and_its_wait():
    board = shared.job_board()
    running = [put_job("mlp", RUNNING, MLPConfig(n_hidden=h), estimate=s) for h, s in ((64, 40.0), (128, 90.0))]
    ahead = put_job("mlp", QUEUED, MLPConfig(n_hidden=256), estimate=30.0)
    waiting = put_job("mlp", QUEUED, estimate=8.0)
    board._waiting.extend([ahead, waiting])
    try:
        at = open_mlp()
        line = next(i.value for i in at.info if "Waiting for a free CPU core" in i.value)
        # the first slot frees in 40 s and takes the job ahead (30 s); the second frees at 90 s
        assert "number 2 in the queue" in line and "1 other training ahead" in line and "about 70 s" in line
        assert "Look at other pages meanwhile" in line and "Closing the tab takes it out of the queue" in line
    finally:
        end(*running, ahead, waiting)


def test_the_queue_line_counts_the_trainings_ahead():
    assert "number 1 in the queue** (no other training ahead" in live.queue_line(1, 0.2)
    assert "about 1 s" in live.queue_line(1, 0.2)
    assert "(3 other trainings ahead of it)" in live.queue_line(4, 125)
    assert "about to start" in live.queue_line(0, 0)
    assert "running on this server" in live.queue_line(2, 5)
    assert "running on the class's training cluster" in live.queue_line(2, 5, on_cluster=True)


# --- presets -------------------------------------------------------------------------------------

def test_the_presets_table_lists_parameters_and_the_results_of_the_trained_ones(tiny_dataset, tmp_path):
    cache = DiskCache(tmp_path / "presets")
    quick = TrainConfig(max_steps=5, batch_size=16)
    load_or_train(tiny_dataset, Run("mlp-bn", PRESETS["naive"], quick), cache=cache)
    titles = {name: name.title() for name in PRESETS}
    table = presets.presets_table(JobBoard(cache), tiny_dataset, "mlp-bn", MODELS["mlp-bn"].presets, titles, quick)
    assert list(table["preset"])[:2] == ["1 · Naive", "2 · Softmax"]
    assert table["parameters"].iloc[5] > table["parameters"].iloc[0]  # the deep net is bigger
    assert table["val loss"].iloc[0] > 0 and table["trained in (s)"].iloc[0] >= 0  # trained: from the cache
    assert table["val loss"].iloc[1:].isna().all()  # the others are not trained yet
    assert presets.matching_preset(MODELS["mlp-bn"].presets, MLPBNConfig()) == "batchnorm"


# --- the Bigram page's settings in the URL -------------------------------------------------------

def test_a_bigram_link_opens_its_settings():
    at = open_app("stages/bigram.py", {"bigram_alpha": "0.5", "bigram_optimizer": "SGD (the lecture's)",
                                       "bigram_lr": "50.0", "bigram_steps": "20", "bigram_wd": "0.01",
                                       "bigram_seed": "7"})
    assert at.slider(key="bigram_alpha").value == 0.5
    assert at.radio(key="bigram_optimizer").value == "sgd" and at.select_slider(key="bigram_lr").value == 50.0
    assert at.slider(key="bigram_steps").value == 20 and at.select_slider(key="bigram_wd").value == 0.01
    assert at.number_input(key="bigram_seed").value == 7
    assert not at.warning


def test_a_bad_bigram_link_falls_back_to_the_defaults_with_a_notice():
    at = open_app("stages/bigram.py", {"bigram_alpha": "11", "bigram_wd": "0.5"})
    notice = next(w.value for w in at.warning if "could not be used" in w.value)
    assert "Smoothing α" in notice and "Weight decay" in notice
    assert at.slider(key="bigram_alpha").value == 1.0 and at.select_slider(key="bigram_wd").value == 0.0


# --- no page code written twice ------------------------------------------------------------------

def runs_of_lines(path: Path, length: int) -> set[tuple[str, ...]]:
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return {tuple(lines[i:i + length]) for i in range(len(lines) - length + 1)}


def test_no_block_of_page_code_is_repeated_between_any_two_pages():
    pages = sorted((APP / "stages").glob("*.py")) + [APP / "compare.py", APP / "landing.py"]
    assert len(pages) >= 9  # seven stages, Compare and Home
    for i, first in enumerate(pages):
        for second in pages[i + 1:]:
            repeated = runs_of_lines(first, 6) & runs_of_lines(second, 6)
            assert not repeated, (f"{first.name} and {second.name}:\n"
                                  + "\n---\n".join("\n".join(r) for r in sorted(repeated)))


def test_a_class_source_is_parsed_once_and_never_by_two_threads_at_once(monkeypatch):
    # inspect parses a class's whole module; in CPython 3.11.7 two threads parsing at once can raise
    # "SystemError: AST constructor recursion depth mismatch" (30 students on the Transformer page)
    import inspect
    import threading
    from kit import widgets
    from makemore.models.transformer import Block

    widgets._sources.clear()
    inside, overlaps, calls = [0], [], []
    real = inspect.getsource

    def watched(obj):
        inside[0] += 1
        overlaps.append(inside[0] > 1)
        calls.append(obj)
        time.sleep(0.05)  # long enough for the other threads to arrive
        inside[0] -= 1
        return real(obj)

    monkeypatch.setattr(widgets.inspect, "getsource", watched)
    sources = []
    threads = [threading.Thread(target=lambda: sources.append(widgets.source_of(Block))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any(overlaps) and sources == [real(Block)] * 8
    assert widgets.source_of(Block) == real(Block) and calls == [Block]  # read once, for everyone
