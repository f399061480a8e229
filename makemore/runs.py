"""A run: a model, its settings and how it is trained. Everything that decides a result except the
data, so that one value names a training on any word list (its cache key there), travels as a plain
dict (a database row, a message to another machine) and comes back the same.

    run = MODELS["mlp"].default_run()           # or Run("mlp", MLPConfig(n_hidden=64), TrainConfig())
    run.key(dataset)                            # the disk cache's key, the name of a shipped file
    Run.from_dict(run.to_dict()) == run         # {"model": "mlp", "config": {...}, "training": {...}}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from makemore.serving.checkpoint import cache_key
from makemore.models import MODELS
from makemore.train import TrainConfig


@dataclass(frozen=True)
class Run:
    # the names TrainingJob and Checkpoint use, so that code reading one reads the other
    model_name: str  # the registry's name ("mlp")
    model_config: object  # MODELS[model_name].config
    train_config: TrainConfig

    def __post_init__(self):
        if self.model_name not in MODELS:
            raise ValueError(f"unknown model {self.model_name!r}; choose one of {', '.join(MODELS)}")
        if not isinstance(self.model_config, MODELS[self.model_name].config):
            raise ValueError(f"a {self.model_name} run needs a {MODELS[self.model_name].config.__name__}, "
                             f"not a {type(self.model_config).__name__}")
        if not isinstance(self.train_config, TrainConfig):
            raise ValueError(f"a run is trained by a TrainConfig, not a {type(self.train_config).__name__}")

    def key(self, dataset_or_fingerprint) -> str:
        """The cache key of this run on a dataset (or a dataset's fingerprint)."""
        fingerprint = getattr(dataset_or_fingerprint, "fingerprint", dataset_or_fingerprint)
        return cache_key(fingerprint, self.model_name, self.model_config, self.train_config)

    def to_dict(self) -> dict:
        """Plain values only (str, int, float, bool): JSON, a database row, a message."""
        return {"model": self.model_name, "config": asdict(self.model_config), "training": asdict(self.train_config)}

    @classmethod
    def from_dict(cls, d) -> Run:
        """The run a to_dict() describes; ValueError, saying what is wrong, for anything else. A
        field left out takes its default (so a dict written before a field was added still reads)."""
        if not isinstance(d, dict):
            raise ValueError(f"a run is a dict with model, config and training, not a {type(d).__name__}")
        unknown = sorted(set(d) - {"model", "config", "training"})
        if unknown:
            raise ValueError(f"a run has no part named {', '.join(map(repr, unknown))}")
        if "model" not in d:
            raise ValueError(f"a run names its model: one of {', '.join(MODELS)}")
        name = d["model"]
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
        config = _settings(MODELS[name].config, d.get("config", {}), f"the {name} settings")
        training = _settings(TrainConfig, d.get("training", {}), "the training settings")
        return cls(name, config, training)


KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}  # for messages


def _settings(cls, values, what: str):
    """A config dataclass from a dict of its fields, each of its field's type. An int where a float
    is expected becomes that float (some JSON writers turn 1.0 into 1), so that the key stays."""
    if not isinstance(values, dict):
        raise ValueError(f"{what} must be a dict of fields, not a {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{what} have no field named {', '.join(map(repr, unknown))}")
    defaults = asdict(cls())
    values = dict(values)
    for name, value in values.items():
        kind = type(defaults[name])
        ok = (isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
              or (kind is float and isinstance(value, int) and not isinstance(value, bool)))
        if not ok:
            raise ValueError(f"{what}: {name} must be {KINDS.get(kind, kind.__name__)}, not {value!r}")
        values[name] = kind(value)
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} are not valid: {e}") from None
