"""Presets: the steps of a lecture's path (MODELS[...].presets, each a makemore.models.Preset), each a
button that sets the model widgets and trains at once, and a table of what each one costs and
reaches. A preset with changes to the fast recipe (a longer run, say) sets the training widgets too,
and trains with that recipe; one without trains with the page's training settings.

    preset_buttons(MODELS["mlp-bn"].presets, TITLES, FIELDS, prefix="bn", train_key="bn_train", model_name="mlp-bn")
    ...
    job = trained_live(..., key="bn_train")   # trains at once after a preset button
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from makemore.data import WordDataset
from makemore.serving.jobs import JobBoard
from makemore.models import MODELS, Preset, param_count
from makemore.runs import Run
from makemore.train import TrainConfig
from kit.model_controls import ModelSetting, widget_values
from kit.training_ui import WIDGET_FIELDS, apply, training_values

PER_ROW = 5  # buttons in a row


def preset_training(model_name: str, preset: Preset, train_config: TrainConfig) -> TrainConfig:
    """How a preset trains: `train_config` (the page's), or its own recipe when it has one."""
    return MODELS[model_name].preset_training(preset) if preset.train else train_config


def preset_buttons(presets: dict[str, Preset], titles: dict[str, str], fields: list[ModelSetting], prefix: str,
                   train_key: str, model_name: str) -> None:
    """One button per preset, "1 · Naive init", in rows of PER_ROW (widget keys `{prefix}_preset_{name}`).
    A click sets the model widgets in `fields` to the preset (the training settings stay, unless the
    preset has a recipe of its own: then the training widgets take it) and asks trained_live (its
    `key` is `train_key`) to train it at once."""
    names = list(presets)
    for start in range(0, len(names), PER_ROW):
        for column, name in zip(st.columns(PER_ROW), names[start:start + PER_ROW]):
            preset = presets[name]
            values = widget_values(fields, preset.config)
            if preset.train:
                values |= training_values(prefix, MODELS[model_name].preset_training(preset))
            column.button(f"{names.index(name) + 1} · {titles[name]}", key=f"{prefix}_preset_{name}",
                          on_click=choose_preset, args=(values, train_key), width="stretch")


def choose_preset(values: dict, train_key: str) -> None:
    apply(values)
    st.session_state[f"{train_key}_now"] = True  # clicking through the lecture's path trains each step


def matching_preset(presets: dict[str, Preset], config) -> str | None:
    """The name of the preset that is exactly this config, if any."""
    return next((name for name, preset in presets.items() if preset.config == config), None)


def preset_run(model_name: str, presets: dict[str, Preset], model_config, train_config: TrainConfig
               ) -> tuple[str | None, TrainConfig]:
    """(the preset these settings stand for, or None; how to train them). A preset with a recipe of
    its own sets the training sliders with its button, but not what no slider sets (its weight decay,
    say): when the network and every slider are the preset's and the recipe details are the fast
    recipe's, the run is the preset's, with its whole recipe, so that the presets table (and the
    shipped models) find it."""
    fast = MODELS[model_name].fast_training()
    slider_fields = {f: getattr(train_config, f) for f in WIDGET_FIELDS}
    for name, preset in presets.items():
        if preset.train and preset.config == model_config:
            own = MODELS[model_name].preset_training(preset)
            if slider_fields == {f: getattr(own, f) for f in WIDGET_FIELDS} and \
                    train_config == dataclasses.replace(fast, **slider_fields):
                return name, own
    plain = next((name for name, preset in presets.items() if not preset.train and preset.config == model_config),
                 None)
    return plain, train_config


def presets_table(board: JobBoard, dataset: WordDataset, model_name: str, presets: dict[str, Preset],
                  titles: dict[str, str], train_config: TrainConfig) -> pd.DataFrame:
    """Each preset's parameters and, once trained with `train_config` (or its own recipe) by anyone (the
    server's memory or the disk cache), its val loss and training time; empty where not trained yet."""
    rows = []
    for number, (name, preset) in enumerate(presets.items(), 1):
        job = board.find(dataset, Run(model_name, preset.config, preset_training(model_name, preset, train_config)))
        done = job is not None and job.finished
        rows.append({"preset": f"{number} · {titles[name]}",
                     "parameters": param_count(model_name, len(dataset.vocab), preset.config),
                     "val loss": round(job.result.val_loss, 4) if done else None,
                     "trained in (s)": round(job.result.seconds, 1) if done else None})
    return pd.DataFrame(rows)
