"""The model registry: every model family shares one interface.

    model = create_model("bigram-nn", vocab_size=27, config=BigramNNConfig(), seed=1)
    logits, loss = model(idx, targets)

A model declares how it reads a word with its `layout`:
- "windows" (the default): idx is (B, model.block_size), the previous characters of one position;
  logits are (B, V) and targets (B,).
- "words": idx is (B, T), a whole word after a start token; logits are (B, T, V) and targets
  (B, T), with -1 where a word has ended (padding). Every position predicts its next character.
The dataset builds either layout (makemore.data), and the training loop, evaluation and sampling
treat both alike: `next_char_loss` is the one loss, the mean negative log-likelihood per predicted
character.

A model with trainable parameters is trained by gradients (makemore.train); one without them
(the counts bigram) has a `fit(X, Y)` method instead. Adding a model family means one module
here and one entry in MODELS.
"""

import dataclasses
from dataclasses import dataclass, field, fields
from functools import lru_cache

import torch
import torch.nn as nn

from makemore.models.bigram import BigramCounts, BigramCountsConfig, BigramNN, BigramNNConfig
from makemore.models.loss import next_char_loss  # noqa: F401  (the one loss, re-exported)
from makemore.models.mlp import MLP, MLPConfig
from makemore.models.mlp_bn import MLPBN, PRESETS as MLP_BN_PRESETS, MLPBNConfig
from makemore.models.recurrent import GRUConfig, RecurrentLM, RNNConfig
from makemore.models.transformer import PRESETS as TRANSFORMER_PRESETS, BoWConfig, Transformer, TransformerConfig
from makemore.models.wavenet import PRESETS as WAVENET_PRESETS, WaveNet, WaveNetConfig

WINDOWS, WORDS = "windows", "words"


@dataclass(frozen=True)
class LectureRecipe:
    """How the lecture (or makemore.py, for models no lecture trains) trains this model: the
    reference that the fast default is measured against (bench/stages.py, the pages)."""

    source: str  # "lecture 2", "makemore.py"
    train: dict  # TrainConfig fields
    model: dict = field(default_factory=dict)  # changes to the model's default config
    val_loss: float | None = None  # what the source reports for it on its names.txt (data/names.txt)


@dataclass(frozen=True)
class Preset:
    """A step of a stage's path: a model config, trained with the model's fast recipe changed by
    `train` (TrainConfig fields). Presets on the lecture's kind of list ship with the repository."""

    config: object
    train: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    cls: type  # nn.Module subclass taking (vocab_size, config, generator)
    config: type  # frozen dataclass of the model's settings (hashable, so a cache key)
    summary: str
    train_defaults: dict = field(default_factory=dict)  # TrainConfig fields: the fast recipe
    lecture: LectureRecipe | None = None
    presets: dict = field(default_factory=dict)  # name -> Preset, in the order a page walks them
    name: str = ""  # its key in MODELS (set there)

    # makemore.train and makemore.runs import this module: imported when called, not at the top

    def fast_training(self):
        """The fast recipe: a page's default training, and the CLI's."""
        from makemore.train import TrainConfig
        return TrainConfig(**self.train_defaults)

    def preset_training(self, preset: Preset):
        """How a preset trains: the fast recipe with the preset's changes."""
        from makemore.train import TrainConfig
        return TrainConfig(**{**self.train_defaults, **preset.train})

    def default_run(self):
        """The model's defaults with the fast recipe (what every page starts with)."""
        from makemore.runs import Run
        return Run(self.name, self.config(), self.fast_training())

    def preset_run(self, preset: Preset | str):
        """A preset (or the name of one of this model's) with its recipe."""
        from makemore.runs import Run
        preset = self.presets[preset] if isinstance(preset, str) else preset
        return Run(self.name, preset.config, self.preset_training(preset))

    def lecture_run(self):
        """The lecture's own run: its changes to the default config, its recipe; None without one."""
        if self.lecture is None:
            return None
        from makemore.runs import Run
        from makemore.train import TrainConfig
        return Run(self.name, dataclasses.replace(self.config(), **self.lecture.model),
                   TrainConfig(**self.lecture.train))

    def runs(self) -> dict:
        """Every run the registry names for this model, by why: "default", "lecture recipe",
        "preset NAME" (a preset may be the default run itself)."""
        runs = {"default": self.default_run()}
        if self.lecture is not None:
            runs["lecture recipe"] = self.lecture_run()
        return runs | {f"preset {name}": self.preset_run(preset) for name, preset in self.presets.items()}


# lecture 2 and 3's final runs: SGD at 0.1, then 0.01 for the second half, batches of 32
LECTURE_SGD = dict(optimizer="sgd", lr=0.1, schedule="step", max_steps=200_000, batch_size=32)
# makemore.py's defaults, the reference for the models no lecture trains
MAKEMORE_PY = dict(optimizer="adamw", lr=5e-4, weight_decay=0.01, beta2=0.99, batch_size=32)

MODELS: dict[str, ModelSpec] = {
    "bigram": ModelSpec(
        BigramCounts,
        BigramCountsConfig,
        "bigram counts with add-alpha smoothing (lecture 1)",
        dict(max_steps=0),
    ),
    "bigram-nn": ModelSpec(
        BigramNN,
        BigramNNConfig,
        "neural bigram: one-hot x W, softmax, gradient descent (lecture 1)",
        dict(max_steps=100, batch_size=0, optimizer="adamw", lr=0.5),
        # the lecture's plain gradient descent on the full batch
        LectureRecipe("lecture 1", dict(max_steps=200, batch_size=0, optimizer="sgd", lr=50.0), val_loss=2.45),
    ),
    "mlp": ModelSpec(
        MLP,
        MLPConfig,
        "MLP on concatenated character embeddings, one tanh hidden layer (lecture 2)",
        # the page's fast recipe: the lecture's loss in a small fraction of its 200k steps
        dict(max_steps=4000, batch_size=512, optimizer="adamw", lr=0.01, schedule="cosine"),
        LectureRecipe("lecture 2", LECTURE_SGD, dict(init="naive"), val_loss=2.164),
    ),
    "mlp-bn": ModelSpec(
        MLPBN,
        MLPBNConfig,
        "deeper MLP with BatchNorm and the initialisations of lecture 3",
        # the page's fast recipe for the lecture's one-layer BatchNorm net: val ~2.106 in ~17 s on
        # one core (the lecture: 2.1057 after 200k SGD steps); BatchNorm likes the bigger batch
        dict(max_steps=4000, batch_size=1024, optimizer="adamw", lr=0.01, schedule="cosine"),
        LectureRecipe("lecture 3", LECTURE_SGD, val_loss=2.1057),
        {name: Preset(config) for name, config in MLP_BN_PRESETS.items()},
    ),
    "wavenet": ModelSpec(
        WaveNet,
        WaveNetConfig,
        "hierarchical MLP fusing the context two characters at a time, like WaveNet (lecture 5)",
        # val ~1.986 in ~28 s on one core (the lecture's recipe: 1.993 after 200k SGD steps)
        dict(max_steps=9000, batch_size=256, optimizer="adamw", lr=0.003, schedule="cosine", lr_floor=0.01),
        LectureRecipe("lecture 5", LECTURE_SGD, val_loss=1.993),
        {name: Preset(config) for name, config in WAVENET_PRESETS.items()}
        # twice the steps, with weight decay against overfitting: ~1.973 in about a minute
        | {"longer": Preset(WaveNetConfig(), dict(max_steps=18_000, weight_decay=0.1))},
    ),
    "rnn": ModelSpec(
        RecurrentLM,
        RNNConfig,
        "vanilla RNN reading a word one character at a time (Mikolov et al. 2010)",
        # val ~2.02 in ~10 s on one core
        dict(max_steps=4000, batch_size=64, optimizer="adamw", lr=0.003, schedule="cosine"),
        LectureRecipe("makemore.py", MAKEMORE_PY | dict(max_steps=10_000), dict(n_embd=64, n_hidden=64)),
    ),
    "gru": ModelSpec(
        RecurrentLM,
        GRUConfig,
        "GRU: a recurrent net with update and reset gates (Cho et al. 2014)",
        # val ~1.99 in ~16 s on one core; weight decay keeps the gates from overfitting
        dict(max_steps=4000, batch_size=64, optimizer="adamw", lr=0.005, schedule="cosine", weight_decay=0.1),
        LectureRecipe("makemore.py", MAKEMORE_PY | dict(max_steps=10_000), dict(n_embd=64, n_hidden=64)),
        {"larger": Preset(GRUConfig(n_embd=32, n_hidden=128), dict(max_steps=5000, batch_size=128))},
    ),
    "bow": ModelSpec(
        Transformer,
        BoWConfig,
        "bag of words: each position averages the characters so far, then an MLP (makemore.py's BoW)",
        # val ~2.09 in ~10 s on one core
        dict(max_steps=1500, batch_size=128, optimizer="adamw", lr=0.01, schedule="cosine", weight_decay=0.01),
    ),
    "transformer": ModelSpec(
        Transformer,
        TransformerConfig,
        "small GPT: causal self-attention, MLP, residual connections, LayerNorm (lecture 7)",
        # val ~1.99 in ~42 s on one core (makemore.py's defaults: 2.085 after 2,000 steps)
        dict(max_steps=2500, batch_size=128, optimizer="adamw", lr=0.01, schedule="cosine", weight_decay=0.1),
        LectureRecipe("makemore.py", MAKEMORE_PY | dict(max_steps=2000), dict(n_embd=64, n_layer=4, n_head=4),
                      val_loss=2.085),
        # lecture 7's path: each step one change, trained alike; the last, the small GPT, longer
        {name: Preset(config, dict(max_steps=1500, lr=0.005, weight_decay=0.01))
         for name, config in TRANSFORMER_PRESETS.items() if name != "gpt"}
        | {"gpt": Preset(TRANSFORMER_PRESETS["gpt"], dict(max_steps=3500, lr=0.006))},
    ),
}
MODELS = {name: dataclasses.replace(spec, name=name) for name, spec in MODELS.items()}


def create_model(name: str, vocab_size: int, config=None, seed: int = 1337) -> nn.Module:
    """Build a model with its weights drawn from a generator seeded with `seed`.

    A private generator (not the global RNG) keeps initialisation reproducible when several
    students train at once in one server process.
    """
    spec = MODELS[name]
    config = spec.config() if config is None else config
    generator = torch.Generator().manual_seed(seed)
    return spec.cls(vocab_size, config, generator=generator)


def layout(model: nn.Module) -> str:
    """How the model reads a word: WINDOWS or WORDS (see the module's docstring)."""
    return getattr(model, "layout", WINDOWS)


def config_fields(name: str) -> list:
    """The dataclass fields of a model's config (for CLI options and UI labels)."""
    return list(fields(MODELS[name].config))


def count_params(model: nn.Module) -> int:
    """Trainable parameters; for a counting model, the numbers in its table."""
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return n or sum(b.numel() for b in model.buffers())


@lru_cache(maxsize=256)
def param_count(name: str, vocab_size: int, config) -> int:
    """count_params of the model these settings build (built once per settings: a page asks on
    every rerun, and building the biggest allowed net takes a few milliseconds)."""
    return count_params(create_model(name, vocab_size, config))
