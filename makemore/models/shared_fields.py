"""Settings shared between model configs, declared once: a config whose field means what another
config's field means takes that field's bounds and UI text (its dataclass metadata) from it.

    n_hidden: int = same_field(MLPConfig, "n_hidden", 100, label="Width")
"""

from dataclasses import MISSING, field


def same_field(config: type, name: str, default=MISSING, **changes):
    """Field `name` of the dataclass `config`, with its default (or `default`) and its metadata,
    changed by `changes` (a label or help of its own)."""
    source = config.__dataclass_fields__[name]
    return field(default=source.default if default is MISSING else default,
                 metadata={**source.metadata, **changes})
