"""One training loop for every model.

    result = train(model, dataset, TrainConfig(max_steps=1000, lr=0.1), callback=print)

The callback sees a Progress after every step (for progress bars, live charts) and stops the run
by returning True; what was trained so far is kept and evaluated. A model built of
makemore.layers also gets its activations and gradients recorded (makemore.diagnostics).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from makemore import limits
from makemore.data import WordDataset
from makemore.diagnostics import Recorder, tanh_layers
from makemore.models import count_params, layout
from makemore.models.loss import NO_TARGET

OPTIMIZERS = ("adamw", "sgd")  # as the pages list them: the fast recipes' first
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
EVALUATIONS = 20  # validation losses per run when eval_interval is automatic
MAX_WEIGHT_DECAY = 10.0  # far past any useful decay (0.1 is strong): only a typo goes higher
MAX_BETA2 = 0.9999  # 1 would never forget a gradient (and divides by zero at the start)


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained. Each field's metadata declares it once for the CLI's option (makemore.cli),
    the pages' widget and the check of a link (app/kit/training_ui.py): `label` (a widget's; `phrase` where
    a sentence needs other words than the label in lower case), `help`, `min` and `max` (inclusive;
    `positive`: above 0 as well), `choices` (with `choice_labels`, as the pages show them), `zero`
    (what 0 means), and `widget`: where the pages set it ("training": the controls every training
    page has, "overfitting": the expander against overfitting; none: only a recipe sets it)."""

    max_steps: int = field(default=1000, metadata=dict(
        min=0, max=limits.MAX_STEPS, label="Steps", widget="training"))
    # 0 = the whole training split every step (full-batch gradient descent)
    batch_size: int = field(default=32, metadata=dict(
        min=0, max=limits.MAX_BATCH_SIZE, label="Batch size", widget="training",
        zero="the whole training split every step", help="Examples per step. Bigger: a less noisy gradient, slower steps."))
    optimizer: str = field(default="sgd", metadata=dict(  # "sgd" (plain, as in the lectures) or "adamw"
        choices=OPTIMIZERS, choice_labels={"adamw": "AdamW", "sgd": "SGD"}, label="Optimizer", widget="training",
        help="**SGD** (the lectures'): step against the gradient. **AdamW**: per-weight step sizes from running "
        "averages of the gradient; much less sensitive to the learning rate."))
    lr: float = field(default=0.1, metadata=dict(
        min=0.0, max=limits.MAX_LR, positive=True, label="Learning rate", widget="training"))
    # "step": lr/10 for the last half, as the lectures do; "cosine": to lr_floor
    schedule: str = field(default="constant", metadata=dict(
        choices=SCHEDULES, choice_labels={"constant": "off"}, label="Learning-rate decay", widget="training",
        help="**step**: the rate ÷ 10 for the second half (the lectures'). **cosine**: a smooth fall to a tenth "
        "of the rate by the last step. **off**: one rate throughout."))
    # L2 regularisation (added to the gradient for SGD, decoupled in AdamW)
    weight_decay: float = field(default=0.0, metadata=dict(
        min=0.0, max=MAX_WEIGHT_DECAY, label="Weight decay", widget="overfitting",
        help="Pulls every weight a little towards 0 at each step, so the net cannot bend itself around each "
        "training word."))
    lr_floor: float = field(default=0.1, metadata=dict(  # where the cosine decay ends, as a fraction of lr
        min=0.0, max=1.0, label="Cosine floor (× lr)", help="Where the cosine decay ends, as a fraction of lr."))
    # steps of a linear ramp up to lr at the start (big rates shake a fresh net apart)
    warmup: int = field(default=0, metadata=dict(
        min=0, max=limits.MAX_STEPS, label="Warmup steps", help="Steps of a linear ramp up to the learning rate."))
    beta2: float = field(default=0.999, metadata=dict(  # AdamW's average of squared gradients (makemore.py uses 0.99)
        min=0.0, max=MAX_BETA2, label="AdamW β₂", phrase="AdamW β₂",
        help="AdamW's average of squared gradients."))
    seed: int = field(default=1337, metadata=dict(
        min=0, max=limits.MAX_SEED, label="Seed", widget="training",
        help="Sets the initial weights and the order of the minibatches."))
    # validation loss every this many steps, and at the last; 0: automatic, EVALUATIONS per run. The
    # CLI and the pages leave it automatic, so the same settings give the same cache key everywhere.
    eval_interval: int = field(default=0, metadata=dict(
        min=0, max=limits.MAX_STEPS, label="Validation every", zero=f"automatic, {EVALUATIONS} per run",
        help="The validation loss every this many steps, and at the last."))
    device: str = field(default="auto", metadata=dict(choices=DEVICES, label="Device"))
    # restore, at the end, the weights of the evaluation with the lowest validation loss (early
    # stopping without the stop: the run still shows how val went on). Left out of the cache key
    # while False (makemore.serving.checkpoint.cache_key), as every field added after the shipped models.
    keep_best: bool = field(default=False, metadata=dict(
        label="Keep the best-val weights", widget="overfitting",
        help="Train all the steps, but end with the weights of the validation point with the lowest loss "
        "(early stopping, with the whole curve still shown)."))

    def __post_init__(self):
        for name, value, allowed in (("optimizer", self.optimizer, OPTIMIZERS),
                                     ("schedule", self.schedule, SCHEDULES), ("device", self.device, DEVICES)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
        if self.max_steps < 0 or self.batch_size < 0 or self.eval_interval < 0:
            raise ValueError("max_steps, batch_size and eval_interval cannot be negative")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"the learning rate must be a positive number, not {self.lr}")
        if not (0 <= self.lr_floor <= 1) or not (0 <= self.beta2 < 1) or self.warmup < 0:
            raise ValueError("lr_floor must be in [0, 1], beta2 in [0, 1) and warmup not negative")

    @property
    def eval_every(self) -> int:
        return self.eval_interval or max(1, self.max_steps // EVALUATIONS)

    def lr_at(self, step: int) -> float:
        """The learning rate of step `step` (0-based)."""
        ramp = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        if self.schedule == "step":
            return ramp * (self.lr if step < self.max_steps // 2 else self.lr / 10)
        if self.schedule == "cosine":
            t = step / max(1, self.max_steps - 1)
            floor = self.lr * self.lr_floor
            return ramp * (floor + (self.lr - floor) * 0.5 * (1 + math.cos(math.pi * t)))
        return ramp * self.lr


@dataclass
class Progress:
    step: int  # steps done so far (1-based after the first step)
    max_steps: int
    lr: float
    loss: float  # this step's minibatch loss
    val_loss: float | None  # set on the steps where validation ran
    seconds: float


@dataclass
class TrainResult:
    params: int
    steps: int
    seconds: float
    train_loss: float
    val_loss: float
    test_loss: float
    stopped_early: bool = False
    device: str = "cpu"
    # history: one entry per step, and one per evaluation
    step_history: list[int] = field(default_factory=list)
    lr_history: list[float] = field(default_factory=list)
    loss_history: list[float] = field(default_factory=list)
    val_history: list[tuple[int, float]] = field(default_factory=list)
    diagnostics: dict | None = None  # makemore.diagnostics' record, for models built of its layers
    # keep_best: the step whose weights were restored (the losses above are theirs); None: the last step's
    kept_step: int | None = None

    @property
    def steps_per_sec(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return asdict(self) | {"steps_per_sec": self.steps_per_sec}

    @classmethod
    def from_dict(cls, d: dict) -> TrainResult:
        names = cls.__dataclass_fields__
        d = {k: v for k, v in d.items() if k in names}
        d["val_history"] = [tuple(p) for p in d.get("val_history", [])]
        return cls(**d)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for, but Apple's MPS is not available")
    return torch.device(name)


@torch.no_grad()
def evaluate(model, X: torch.Tensor, Y: torch.Tensor, chunk: int = 4096) -> float:
    """Mean loss per predicted character over a whole split (windows or padded words), in chunks
    of about `chunk` targets: memory stays bounded, and chunks whose activations fit in the CPU's
    cache run two to three times faster than one big batch."""
    was_training = model.training
    model.eval()
    rows = max(1, chunk // Y[0].numel())
    total, count = 0.0, 0
    for i in range(0, len(X), rows):
        Xc, Yc = trim(X[i : i + rows], Y[i : i + rows])
        n = int((Yc != NO_TARGET).sum())
        if n:
            _, loss = model(Xc, Yc)
            total += loss.item() * n
            count += n
    model.train(was_training)
    return total / count


def evaluated_examples(config: TrainConfig, dataset: WordDataset) -> int:
    """How many characters a run evaluates: the val split at every evaluation, then every split
    once at the end (for time estimates: a big network spends seconds on them)."""
    size = {split: sum(len(word) + 1 for word in words) for split, words in dataset.splits.items()}
    evaluations = config.max_steps // config.eval_every if config.max_steps else 0
    return evaluations * size["val"] + sum(size.values())


def trim(X: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded words cut to the batch's longest: the positions past it hold no target, and a causal
    model's loss does not change (windows are returned as they are)."""
    if Y.dim() < 2:
        return X, Y
    longest = int((Y != NO_TARGET).sum(1).max())
    return X[:, :longest], Y[:, :longest]


def split_tensors(model, dataset: WordDataset, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, Y) of a split in the layout the model reads (the dataset builds and keeps them)."""
    return dataset.examples(split, model.block_size, layout(model))


def make_optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":  # checked by TrainConfig
        return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay)
    # fused: one kernel for the whole update instead of several per weight (5-10 % of a small model's step)
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, config.beta2),
                             fused=fused)


def train(model, dataset: WordDataset, config: TrainConfig, callback=None, diagnostics: bool = True) -> TrainResult:
    """Train `model` in place on the dataset's train split and evaluate it on every split.

    diagnostics=False skips recording them (to measure what recording costs)."""
    device = resolve_device(config.device)
    model.to(device)
    model.train()
    Xtr, Ytr = (t.to(device) for t in split_tensors(model, dataset, "train"))
    Xva, Yva = (t.to(device) for t in split_tensors(model, dataset, "val"))
    result = TrainResult(params=count_params(model), steps=0, seconds=0.0,
                         train_loss=math.nan, val_loss=math.nan, test_loss=math.nan, device=str(device))
    t0 = time.perf_counter()

    if not any(p.requires_grad for p in model.parameters()):
        model.fit(Xtr, Ytr)  # a counting model: no gradient steps
    else:
        optimizer = make_optimizer(model, config)
        torch.manual_seed(config.seed)  # dropout draws from the global generator
        generator = torch.Generator().manual_seed(config.seed)  # private: reproducible under threads
        full_batch = config.batch_size <= 0 or config.batch_size >= len(Xtr)
        recorder = Recorder(model, config.max_steps) if diagnostics and tanh_layers(model) else None
        best_val, best_state = math.inf, None
        for step in range(config.max_steps):
            lr = config.lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            if full_batch:
                Xb, Yb = Xtr, Ytr
            else:
                ix = torch.randint(0, len(Xtr), (config.batch_size,), generator=generator).to(device)
                Xb, Yb = trim(Xtr[ix], Ytr[ix])
            _, loss = model(Xb, Yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if recorder is not None:
                recorder.after_step(step + 1)

            loss = loss.item()
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss} at step {step + 1}: the learning rate {lr:g} is too high"
                )
            result.steps = step + 1
            result.step_history.append(step + 1)
            result.lr_history.append(lr)
            result.loss_history.append(loss)
            val_loss = None
            last = step + 1 == config.max_steps
            if (step + 1) % config.eval_every == 0 or last:
                val_loss = evaluate(model, Xva, Yva)
                result.val_history.append((step + 1, val_loss))
                if config.keep_best and val_loss < best_val:
                    best_val, result.kept_step = val_loss, step + 1
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if callback is not None:
                stop = callback(Progress(step + 1, config.max_steps, lr, loss, val_loss,
                                         time.perf_counter() - t0))
                if stop:
                    result.stopped_early = not last
                    break

        if recorder is not None:
            result.diagnostics = recorder.diagnostics
        if best_state is not None and result.kept_step != result.steps:
            model.load_state_dict(best_state)  # buffers too: BatchNorm's running statistics of that step
    result.seconds = time.perf_counter() - t0
    result.train_loss = evaluate(model, Xtr, Ytr)
    result.val_loss = evaluate(model, Xva, Yva)
    result.test_loss = evaluate(model, *(t.to(device) for t in split_tensors(model, dataset, "test")))
    # Returned on the CPU (sampling, charts and the cache use it there) and in eval mode: the app
    # shares one trained model between visitors, who only ever evaluate it.
    model.to("cpu").eval()
    return result
