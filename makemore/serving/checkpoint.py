"""One file format for a trained model: the disk cache, the shipped models, `train --save`,
`sample --load` and the app's export and import all read and write it.

    save_checkpoint(path, Checkpoint.of(model_name, model, model_config, train_config, result, dataset))
    checkpoint = load_checkpoint(path)        # CheckpointError, saying what is wrong, if unusable
    model = checkpoint.build()                # the model with its trained weights, in eval mode

A file is a dict of plain values and tensors, so `torch.load(path, weights_only=True)` reads it and
a file cannot run code when it is opened:

    format       FORMAT
    key          the cache key of the run (makemore.serving.cache.cache_key), so any file is a cache entry
    model        the registry name ("mlp")
    config       the model's config as a dict
    train_config the TrainConfig as a dict
    result       the TrainResult as a dict (losses, history, diagnostics)
    vocab        {"chars": [...], "boundary": "."}
    dataset      {"name": ..., "fingerprint": ...}
    state_dict   the weights
    train_words  the training split (optional: marks samples as new or memorised)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tempfile
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn as nn

from makemore import limits
from makemore.data import Vocab, WordDataset
from makemore.models import MODELS, create_model
from makemore.train import TrainConfig, TrainResult

FORMAT = 2  # bump when the layout changes; older files then count as cache misses


class CheckpointError(ValueError):
    """A file that is not a usable makemore model; the message says why, in one sentence."""


# TrainConfig fields added after the shipped models were named, with their defaults: a field at its
# default is left out of the key, so that every run that could be asked for before it keeps its key
# (and its file in data/models).
ADDED_TRAIN_FIELDS = {"keep_best": False}


def cache_key(fingerprint: str, model_name: str, model_config, train_config: TrainConfig) -> str:
    """Names a run by everything that decides its result: the data, the model and its training."""
    training = {name: value for name, value in asdict(train_config).items()
                if name not in ADDED_TRAIN_FIELDS or value != ADDED_TRAIN_FIELDS[name]}
    desc = json.dumps([FORMAT, fingerprint, model_name, asdict(model_config), training], sort_keys=True)
    return hashlib.sha256(desc.encode()).hexdigest()[:24]


def build_model(model_name: str, vocab_size: int, model_config, state_dict: dict | None = None,
                seed: int = 1337) -> nn.Module:
    """The one place a model is created and given saved weights (in eval mode when it has them).
    Weights that do not fit the config raise CheckpointError."""
    model = create_model(model_name, vocab_size, model_config, seed=seed)
    if state_dict is not None:
        try:
            model.load_state_dict(state_dict)
        except (RuntimeError, KeyError, TypeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"its weights do not fit a {model_name} of this configuration ({first})") from None
        model.eval()
    return model


@dataclass
class Checkpoint:
    model_name: str
    model_config: object  # the model's config dataclass
    train_config: TrainConfig
    result: TrainResult
    vocab: Vocab
    state_dict: dict
    dataset_name: str = ""
    fingerprint: str = ""
    train_words: tuple[str, ...] | None = None

    @classmethod
    def of(cls, model_name: str, model: nn.Module, model_config, train_config: TrainConfig,
           result: TrainResult, dataset: WordDataset, with_words: bool = False) -> Checkpoint:
        """A trained model as a checkpoint; with_words keeps the training split (for exports)."""
        return cls(model_name, model_config, train_config, result, dataset.vocab,
                   {k: v.detach().cpu() for k, v in model.state_dict().items()}, dataset.name,
                   dataset.fingerprint, tuple(dataset.splits["train"]) if with_words else None)

    @property
    def key(self) -> str:
        return cache_key(self.fingerprint, self.model_name, self.model_config, self.train_config)

    def build(self) -> nn.Module:
        return build_model(self.model_name, len(self.vocab), self.model_config, self.state_dict,
                           seed=self.train_config.seed)

    def to_dict(self) -> dict:
        blob = {"format": FORMAT, "key": self.key, "model": self.model_name,
                "config": asdict(self.model_config), "train_config": asdict(self.train_config),
                "result": compact_result(self.result),
                "vocab": {"chars": list(self.vocab.chars), "boundary": self.vocab.boundary},
                "dataset": {"name": self.dataset_name, "fingerprint": self.fingerprint},
                "state_dict": self.state_dict}
        if self.train_words is not None:
            blob["train_words"] = list(self.train_words)
        return blob

    @classmethod
    def from_dict(cls, blob) -> Checkpoint:
        """Check every part of a loaded file; CheckpointError names the first that is wrong."""
        if not isinstance(blob, dict) or "format" not in blob:
            raise CheckpointError("it is not a model saved by makemore")
        if blob["format"] != FORMAT:
            raise CheckpointError(f"it was saved in format {blob['format']!r}, this version reads format {FORMAT}")
        name = blob.get("model")
        if name not in MODELS:
            raise CheckpointError(f"its model {name!r} is not one this version knows ({', '.join(MODELS)})")
        model_config = _dataclass(MODELS[name].config, blob.get("config"), f"the {name} settings")
        train_config = _dataclass(TrainConfig, blob.get("train_config"), "the training settings")
        vocab = _vocab(blob.get("vocab"))
        try:
            result = expand_result(blob["result"], train_config)
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError):
            raise CheckpointError("its training result is missing or damaged") from None
        state_dict = blob.get("state_dict")
        if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
            raise CheckpointError("its weights are missing or damaged")
        dataset = blob.get("dataset") if isinstance(blob.get("dataset"), dict) else {}
        words = blob.get("train_words")
        if words is not None and not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
            raise CheckpointError("its list of training words is damaged")
        checkpoint = cls(name, model_config, train_config, result, vocab, state_dict,
                         str(dataset.get("name", "")), str(dataset.get("fingerprint", "")),
                         tuple(words) if words is not None else None)
        checkpoint.build()  # the weights must fit the config: CheckpointError now, not later
        return checkpoint


def compact_result(result: TrainResult) -> dict:
    """The result to store: the per-step losses as one float32 tensor (the losses are float32
    values, so nothing is lost), the steps and learning rates left out (expand_result computes them
    again), so that a 200,000-step run takes 0.8 MB instead of 5."""
    d = result.to_dict()
    d["loss_history"] = torch.tensor(result.loss_history, dtype=torch.float32)
    del d["step_history"], d["lr_history"], d["steps_per_sec"]
    return d


def expand_result(d: dict, train_config: TrainConfig) -> TrainResult:
    losses = d["loss_history"]
    losses = losses.tolist() if isinstance(losses, torch.Tensor) else list(losses)
    steps = len(losses)
    return TrainResult.from_dict({**d, "loss_history": losses, "step_history": list(range(1, steps + 1)),
                                  "lr_history": [train_config.lr_at(i) for i in range(steps)]})


def _dataclass(cls, values, what: str):
    if not isinstance(values, dict):
        raise CheckpointError(f"{what} are missing")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise CheckpointError(f"{what} have fields this version does not know: {', '.join(map(str, unknown))}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{what} are not valid: {e}") from None


def _vocab(values) -> Vocab:
    try:
        chars, boundary = values["chars"], values["boundary"]
        ok = (isinstance(chars, list) and all(isinstance(c, str) and c for c in chars)
              and isinstance(boundary, str) and boundary and boundary not in chars
              and len(set(chars)) == len(chars) and len(chars) <= limits.MAX_VOCAB)
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise CheckpointError("its vocabulary is missing or damaged")
    return Vocab(tuple(chars), boundary)


# -----------------------------------------------------------------------------------------------
# bytes and files


def checkpoint_bytes(checkpoint: Checkpoint) -> bytes:
    buffer = io.BytesIO()
    torch.save(checkpoint.to_dict(), buffer)
    return buffer.getvalue()


def read_checkpoint(raw: bytes, source: str = "the file") -> Checkpoint:
    """A checkpoint from a file's bytes. Only plain values and tensors are unpickled
    (weights_only=True): a file that would run code is refused, never executed."""
    if len(raw) > limits.MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{source} is {len(raw):,} bytes; a makemore model is at most "
                              f"{limits.MAX_CHECKPOINT_BYTES:,}")
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise CheckpointError(f"{source} is not a model saved by makemore (a .pt file from its export or "
                              "`python -m makemore train --save`); it may be truncated")
    try:
        blob = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{source} holds Python objects other than weights and plain values; "
                              "it was refused without being run") from None
    except Exception as e:  # a damaged archive: torch raises RuntimeError, zipfile BadZipFile, ...
        raise CheckpointError(f"{source} is damaged or truncated ({type(e).__name__})") from None
    try:
        return Checkpoint.from_dict(blob)
    except CheckpointError as e:
        raise CheckpointError(f"{source} cannot be used: {e}") from None


def load_checkpoint(path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist or is not a file")
    if path.stat().st_size > limits.MAX_CHECKPOINT_BYTES:  # refuse before reading it into memory
        raise CheckpointError(f"{path} is {path.stat().st_size:,} bytes; a makemore model is at most "
                              f"{limits.MAX_CHECKPOINT_BYTES:,}")
    return read_checkpoint(path.read_bytes(), str(path))


def save_checkpoint(path, checkpoint: Checkpoint) -> None:
    """Write atomically: to a temporary name in the same folder, then renamed, so a crash or a full
    disk never leaves half a file under the real name. Raises OSError."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint.to_dict(), f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
