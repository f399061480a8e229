"""A model's settings on a page, declared once: each field of the model's config carries its bounds
and its UI text as dataclass field metadata (makemore/models/*.py), and the same metadata draws the
widget, checks the URL parameter and makes the CLI option.

    FIELDS = [model_setting("mlp", "n_hidden", key="mlp_hidden"), ...]   # once, at the top of a page
    check_link([f.url_setting() for f in FIELDS] + ...)
    model_config = model_controls("mlp", FIELDS, columns=4)             # the widgets, in rows

Metadata keys: `min`, `max`, `step` (a slider), `options` (allowed numbers: a select-slider),
`choices` (strings: a radio, or a selectbox past three of them) with optional `choice_labels`
(choice -> the text shown, which is also what the URL holds), `label` and `help`. A bool is a toggle.
Every widget is bound to the URL under its key and kept across pages.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import streamlit as st

from makemore.models import MODELS
from kit.urlstate import Setting

BOUND = dict(bind="query-params", persist_state="session")  # in the URL, and kept across pages
PAGE_MODEL = "page_model_fields"  # session_state: (model, fields) of the model widgets this page drew
RADIO_CHOICES = 3  # up to this many choices show side by side; more go in a selectbox


def initial(key: str, default: Any, unset: Any = None) -> Any:
    """The default to draw a bound widget with: once the session holds a value for its key, `unset`,
    what the widget takes for "no default" (None for a slider; 0 for an index, "min" for a number
    input, False for a toggle: these keep the widget from offering an empty value). Buttons (recipes,
    presets, the sweep's rate) set widgets through st.session_state before they are drawn, and a
    widget given a default as well makes Streamlit log a warning with a stack trace; the session's
    value wins either way."""
    return unset if key in st.session_state else default


@dataclass(frozen=True)
class ModelSetting:
    """One field of a model's config on a page: its widget, and the URL parameter `key`."""

    model: str  # registry name ("mlp")
    name: str  # the config's field ("n_hidden")
    key: str  # widget key and URL parameter ("mlp_hidden")

    @property
    def field(self) -> dataclasses.Field:
        return next(f for f in dataclasses.fields(MODELS[self.model].config) if f.name == self.name)

    @property
    def meta(self) -> dict:
        return dict(self.field.metadata)

    @property
    def default(self) -> Any:
        return getattr(MODELS[self.model].config(), self.name)

    @property
    def label(self) -> str:
        return self.meta.get("label", self.name.replace("_", " ").capitalize())

    def shown(self, choice: str) -> str:
        """The text a choice is shown as (and written in the URL as)."""
        return self.meta.get("choice_labels", {}).get(choice, choice)

    def url_setting(self) -> Setting:
        """What the URL may hold for this field (urlstate checks a link against it)."""
        meta = self.meta
        if "choices" in meta:
            return Setting(self.key, self.label, self.shown(self.default),
                           options=tuple(self.shown(c) for c in meta["choices"]))
        if "options" in meta:
            return Setting(self.key, self.label, self.default, options=tuple(meta["options"]))
        return Setting(self.key, self.label, self.default, lo=meta.get("min"), hi=meta.get("max"))

    def widget(self, container=st) -> Any:
        """Draw the field's widget in `container` and return its value, as the config holds it."""
        meta, default = self.meta, self.default
        common = dict(key=self.key, help=meta.get("help"), **BOUND)
        if isinstance(default, bool):
            return container.toggle(self.label, initial(self.key, default, False), **common)
        if "choices" in meta:
            choices = list(meta["choices"])
            draw = container.radio if len(choices) <= RADIO_CHOICES else container.selectbox
            return draw(self.label, choices, index=initial(self.key, choices.index(default), 0),
                        format_func=self.shown, **common)
        if "options" in meta:
            return container.select_slider(self.label, list(meta["options"]), initial(self.key, default), **common)
        kind = type(default)
        step = meta.get("step", 1 if kind is int else None)
        return container.slider(self.label, kind(meta["min"]), kind(meta["max"]), initial(self.key, default),
                                None if step is None else kind(step), **common)


def model_setting(model: str, name: str, prefix: str | None = None, key: str | None = None) -> ModelSetting:
    """Field `name` of model `model`'s config on a page, under the URL parameter `key`
    (else `{prefix}_{name}`)."""
    if key is None:
        if prefix is None:
            raise ValueError("give the setting a key or a prefix")
        key = f"{prefix}_{name}"
    setting = ModelSetting(model, name, key)
    setting.field  # fail now, at the page's top, if the config has no such field
    return setting


def url_settings(fields: list[ModelSetting]) -> list[Setting]:
    return [f.url_setting() for f in fields]


def model_controls(model: str, fields: list[ModelSetting], columns: int = 3):
    """Draw the fields' widgets in rows of `columns` and return the model's config: the widgets'
    values, the config's defaults for the fields the page does not show. A combination the config
    refuses (its __post_init__ raises ValueError) is shown as an error and ends the script run."""
    st.session_state[PAGE_MODEL] = (model, tuple(fields))  # the results' "smaller model" sets one of them
    values = {}
    for start in range(0, len(fields), columns):
        for column, f in zip(st.columns(columns), fields[start:start + columns]):
            values[f.name] = f.widget(column)
    try:
        return MODELS[model].config(**values)
    except ValueError as e:
        st.error(f"These settings do not make a model: {e}", icon=":material/error:")
        st.stop()


def widget_values(fields: list[ModelSetting], config) -> dict:
    """The widget values (by key) that stand for a model config: for presets and recipe buttons."""
    return {f.key: getattr(config, f.name) for f in fields}
