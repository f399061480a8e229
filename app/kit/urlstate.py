"""Settings in the page's address, so that a link reopens a page with the same settings.

The widgets themselves keep the URL in step (Streamlit's `bind="query-params"`: the widget key is
the parameter name, and a value equal to the default is left out). Streamlit drops a value it
cannot use without a word; `check_url` reads the address first and says what was dropped and why.
The parsing here is plain Python, so it is tested without a browser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    key: str  # widget key, and the URL parameter's name
    label: str
    default: Any
    options: tuple = ()  # the allowed values (select sliders, radios); empty for a numeric range
    lo: float | None = None
    hi: float | None = None

    def parse(self, text: str) -> Any:
        """The value `text` stands for; ValueError with a reason a person can read if none."""
        if self.options:
            for option in self.options:
                if text == str(option):  # exactly as the widget writes it, which is all it reads back
                    return option
            shown = ", ".join(map(str, self.options[:12])) + (", …" if len(self.options) > 12 else "")
            raise ValueError(f"{text!r} is not one of {shown}")
        kind = type(self.default)
        if kind is bool:  # a toggle writes "true" or "false"
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise ValueError(f"{text!r} is not true or false")
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if kind is float and not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number")
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ValueError(f"{text} is outside {number(self.lo)}–{number(self.hi)}")
        return value


def number(x: float) -> str:
    """A bound as a person reads it: 2,147,483,647 rather than 2.14748e+09."""
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def parse_query(query: dict[str, str | list[str]], settings: list[Setting],
                also_known: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[str], list[str]]:
    """Read a page's query parameters.

    Returns (values, problems, unknown): the valid settings by key, one sentence per value that
    falls back to its default, and the names of parameters no setting (nor `also_known`) uses.
    """
    by_key = {s.key: s for s in settings}
    values, problems, unknown = {}, [], []
    for name, raw in query.items():
        setting = by_key.get(name)
        if setting is None:
            if name not in also_known:
                unknown.append(name)
            continue
        text = raw[-1] if isinstance(raw, list) else raw  # a repeated parameter: the last one wins
        try:
            values[name] = setting.parse(text.strip())
        except ValueError as e:
            problems.append(f"{setting.label}: {e}; using the default, {setting.default}.")
    return values, problems, unknown
