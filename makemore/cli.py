"""Command line: train and sample any registered model.

    python -m makemore train --model bigram --data data/names.txt --json
    python -m makemore train --model bigram-nn --max-steps 200 --save bigram.pt
    python -m makemore sample --load bigram.pt --num 10 --temperature 0.8
    python -m makemore models
    python -m makemore backprop-check --batch-size 8 --json
    python -m makemore pretrain              # the models shipped in data/models
    python -m makemore room create --title "Class 3B" --json
    python -m makemore room show CODE --json  # its members and runs
    python -m makemore room export CODE > runs.csv
    python -m makemore room export CODE --polls > polls.csv  # each prediction of each poll

Every training setting (makemore.train.TrainConfig) and every model's own settings (its config
dataclass: --alpha for bigram) become options, with the bounds their fields' metadata declares.
Bad input exits with status 2 and one line on stderr saying what is wrong.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from dataclasses import MISSING, asdict, fields
from pathlib import Path

from makemore import limits
from makemore.data import DataError, WordDataset
from makemore.lesson.backprop import MIN_BATCH_SIZE, BackpropConfig, compare_all
from makemore.models import MODELS, config_fields
from makemore.runs import Run
from makemore.sample import generate
from makemore.serving.cache import DiskCache, load_or_train
from makemore.serving.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from makemore.train import TrainConfig

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data" / "names.txt"


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + message; we promise one line
        raise UsageError(message)


def bounded(kind, lo, hi, positive=False):
    """An argparse type: a number of `kind` in [lo, hi] (and above 0 if `positive`). argparse names the
    option in the error."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a{'n integer' if kind is int else ' number'}, not {text!r}")
        if not (lo <= value <= hi) or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be between {lo:g} and {hi:g}, not {text}")
        if positive and value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value
    return parse


def add_field_option(group, f) -> None:
    """A config field as an option, from its metadata (makemore.train.TrainConfig, the models'
    configs): --lr, --block-size, --optimizer {adamw,sgd}, --batchnorm/--no-batchnorm... Its default
    is None, so that a field left out keeps the model's recipe or config default."""
    flag = "--" + f.name.replace("_", "-")
    default = f.default if f.default is not MISSING else None
    meta = f.metadata
    zero = f"; 0: {meta['zero']}" if "zero" in meta else ""
    about = meta.get("help", "").replace("**", "")  # the pages' Markdown, as plain text
    help_text = f"{about} (default {default}{zero})".strip()
    if isinstance(default, bool):
        group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
    elif "choices" in meta:
        group.add_argument(flag, choices=meta["choices"], help=help_text)
    elif "options" in meta:  # a few allowed numbers (the page's select-slider)
        group.add_argument(flag, type=type(default), choices=meta["options"], help=help_text)
    elif isinstance(default, (int, float)):
        kind = type(default)
        lo, hi = meta.get("min", -math.inf), meta.get("max", math.inf)
        group.add_argument(flag, type=bounded(kind, lo, hi, meta.get("positive", False)), help=help_text)
    else:
        group.add_argument(flag, help=help_text)


def add_training_options(p, model_required=True):
    p.add_argument("--model", required=model_required, help=f"one of: {', '.join(MODELS)}")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="word list, one word per line (default: data/names.txt)")
    group = p.add_argument_group("training options (default: the model's fast recipe, else the value shown)")
    for f in fields(TrainConfig):
        add_field_option(group, f)
    p.add_argument("--cache", action="store_true", help="reuse/save trained models in the disk cache")


def add_model_options(p, model_name):
    """The model's config fields as options: --block-size, --alpha, --batchnorm/--no-batchnorm..."""
    group = p.add_argument_group(f"{model_name} options")
    for f in config_fields(model_name):
        add_field_option(group, f)


def build_parser(model_name=None):
    p = Parser(prog="python -m makemore", description="Train and sample character-level language models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    t = sub.add_parser("train", help="train a model and report its losses")
    add_training_options(t)
    t.add_argument("--json", action="store_true", help="end with one JSON line of results")
    t.add_argument("--save", help="write the trained model to this file (for `sample --load` and the app's import)")
    s = sub.add_parser("sample", help="sample words from a trained model")
    s.add_argument("--load", help="a model file: from `train --save`, the app's export or the model cache "
                   "(else train first, with the options below)")
    add_training_options(s, model_required=False)
    s.add_argument("--num", type=bounded(int, 1, limits.MAX_SAMPLES), default=20)
    s.add_argument("--temperature", type=bounded(float, 0.01, 10.0), default=1.0)
    s.add_argument("--top-k", type=bounded(int, 0, 1000), default=0, help="0 = no top-k")
    s.add_argument("--sample-seed", type=bounded(int, 0, limits.MAX_SEED), default=0)
    sub.add_parser("models", help="list the model names")
    pre = sub.add_parser("pretrain", help="train the models that ship in data/models (what is missing)")
    pre.add_argument("--jobs", type=bounded(int, 1, 16), default=2, help="trainings at once (default 2)")
    pre.add_argument("--dry-run", action="store_true", help="only say what would be trained or removed")
    b = sub.add_parser("backprop-check", help="check the hand-written gradients of lecture 4 against autograd")
    b.add_argument("--data", default=str(DEFAULT_DATA), help="word list, one word per line (default: data/names.txt)")
    b.add_argument("--batch-size", type=bounded(int, MIN_BATCH_SIZE, 4096),
                   help=f"default 32; at least {MIN_BATCH_SIZE}, or BatchNorm magnifies float32 rounding "
                   "past the tolerance")
    b.add_argument("--n-hidden", type=bounded(int, 1, limits.MAX_N_HIDDEN), help="default 64")
    b.add_argument("--seed", type=bounded(int, 0, limits.MAX_SEED), help="default 42")
    b.add_argument("--json", action="store_true", help="print only one JSON line of results")
    add_room_parsers(sub)
    if model_name in MODELS:
        add_model_options(t, model_name)
        add_model_options(s, model_name)
    return p


# the TrainConfig fields that `train` and `sample` take as options (--max-steps, --lr, ...): every one
TRAIN_OPTIONS = tuple(f.name for f in fields(TrainConfig))


def configs_from_args(args):
    spec = MODELS[args.model]
    model_kwargs = {f.name: getattr(args, f.name) for f in config_fields(args.model)
                    if getattr(args, f.name, None) is not None}
    train_kwargs = dict(spec.train_defaults)
    for name in TRAIN_OPTIONS:
        if getattr(args, name) is not None:
            train_kwargs[name] = getattr(args, name)
    return spec.config(**model_kwargs), TrainConfig(**train_kwargs)


def train_command_line(model_name: str, model_config, train_config: TrainConfig, data: str,
                       save: str | None = None) -> str:
    """The `python -m makemore train` command that trains this run again: every setting that
    differs from the model's defaults and fast recipe becomes an option, so the command builds the
    same configs (the same cache key) and, on the same word list, the same model."""
    spec = MODELS[model_name]
    words = ["python", "-m", "makemore", "train", "--model", model_name, "--data", data]
    defaults = spec.config()
    for f in config_fields(model_name):
        value = getattr(model_config, f.name)
        if value != getattr(defaults, f.name):
            words += option_words(f.name, value)
    fast = spec.fast_training()
    for name in TRAIN_OPTIONS:
        value = getattr(train_config, name)
        if value != getattr(fast, name):
            words += option_words(name, value)
    if save:
        words += ["--save", save]
    return " ".join(shlex.quote(str(w)) for w in words)


def option_words(name: str, value) -> list[str]:
    """One setting as command-line words: ["--lr", "0.003"], ["--no-batchnorm"]."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + name.replace("_", "-")]
    return [flag, repr(value) if isinstance(value, float) else str(value)]  # repr: the float read back exactly


def finite(x):
    return x if isinstance(x, float) and math.isfinite(x) else None


def train_command(args, quiet=False):
    dataset = WordDataset.from_file(args.data)
    model_config, train_config = configs_from_args(args)
    every = max(1, train_config.max_steps // 10)

    def report(p):
        if not quiet and (p.step % every == 0 or p.step == p.max_steps):
            val = f"  val {p.val_loss:.4f}" if p.val_loss is not None else ""
            print(f"step {p.step:>7}/{p.max_steps}  lr {p.lr:.3g}  loss {p.loss:.4f}{val}", flush=True)

    cache = DiskCache() if args.cache else None
    model, result, _ = load_or_train(dataset, Run(args.model, model_config, train_config), report, cache)
    return dataset, model, model_config, train_config, result


def backprop_check(args):
    """Exit 0 when every gradient matches autograd, 1 when one does not."""
    dataset = WordDataset.from_file(args.data)
    options = {"batch_size": args.batch_size, "n_hidden": args.n_hidden, "seed": args.seed}
    config = BackpropConfig(**{k: v for k, v in options.items() if v is not None})
    rows = compare_all(dataset, config)
    wrong = [r.name for r in rows if not r.approx]
    exact = sum(r.exact for r in rows)
    if args.json:
        print(json.dumps({"rows": [{"name": r.name, "shape": list(r.shape), "exact": r.exact, "approx": r.approx,
                                    "max_diff": finite(r.max_diff)} for r in rows],
                          "ok": not wrong, "exact": exact, "config": asdict(config)}))
    else:
        print(f"{'gradient':30} {'shape':14} {'exact':6} {'approx':7} max diff")
        for r in rows:
            print(f"{r.name:30} {r.shape!s:14} {'yes' if r.exact else 'no':6} {'yes' if r.approx else 'no':7} "
                  f"{r.max_diff:.1e}")
        if wrong:
            differ = "gradients differ" if len(wrong) > 1 else "gradient differs"
            print(f"{len(wrong)} {differ} from autograd: {', '.join(wrong)}")
        else:
            print(f"all {len(rows)} gradients match autograd ({exact} exact)")
    return 1 if wrong else 0


def parse_args(argv) -> argparse.Namespace:
    """The command line's arguments, with the options of its --model (UsageError if they are wrong)."""
    # Parse twice: first to learn the model, then with that model's own options added. The first
    # pass ignores --help, so that `train --model mlp-bn --help` lists the model's options too.
    try:
        first, _ = build_parser().parse_known_args([a for a in argv if a not in ("-h", "--help")])
        model_name = getattr(first, "model", None)
    except UsageError:
        model_name = None  # the second pass says what is wrong (or prints the help asked for)
    if model_name is not None and model_name not in MODELS:
        raise UsageError(f"unknown model {model_name!r}; choose one of: {', '.join(MODELS)}")
    return build_parser(model_name).parse_args(argv)


def models_command(args) -> int:
    for name, spec in MODELS.items():
        print(f"{name:12} {spec.summary}")
    return 0


def train_and_report(args) -> int:
    dataset, model, model_config, train_config, r = train_command(args, quiet=args.json)
    if args.save:
        checkpoint = Checkpoint.of(args.model, model, model_config, train_config, r, dataset, with_words=True)
        try:
            save_checkpoint(args.save, checkpoint)
        except (OSError, RuntimeError) as e:
            raise UsageError(f"cannot write {args.save}: {e}")
    summary = {"model": args.model, "data": str(args.data), "params": r.params, "steps": r.steps,
               "seconds": round(r.seconds, 3), "steps_per_sec": round(r.steps_per_sec, 1),
               "train_loss": finite(r.train_loss), "val_loss": finite(r.val_loss),
               "test_loss": finite(r.test_loss), "kept_step": r.kept_step, "device": r.device,
               "config": asdict(model_config), "train_config": asdict(train_config)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.model}: {r.params:,} params, {r.steps} steps in {r.seconds:.1f}s  "
              f"train {r.train_loss:.4f}  val {r.val_loss:.4f}  test {r.test_loss:.4f}"
              + (f"  (the weights of step {r.kept_step:,}, the best val)" if r.kept_step else ""))
    return 0


def pretrain_command(args) -> int:
    from makemore.serving.pretrain import (
        pretrain,  # imported here: it reads every built-in list
    )
    try:
        pretrain(jobs=args.jobs, dry_run=args.dry_run, echo=lambda line: print(line, flush=True))
    except RuntimeError as e:  # some trainings failed: each said why above; the rest are kept
        raise UsageError(str(e)) from None
    return 0


def sample_command(args) -> int:
    if not args.load and not args.model:
        raise UsageError("sample needs --load FILE (from `train --save`) or --model NAME to train first")
    if args.load:
        checkpoint = load_checkpoint(args.load)
        model, vocab, train_words = checkpoint.build(), checkpoint.vocab, checkpoint.train_words or ()
        if checkpoint.train_words is None:  # a cache entry: the words are not in it
            print("(this file does not hold its training words: samples are not marked new)", file=sys.stderr)
    else:
        dataset, model, _, _, _ = train_command(args, quiet=True)
        vocab, train_words = dataset.vocab, dataset.splits["train"]
    mark = bool(train_words)
    for s in generate(model, vocab, num=args.num, seed=args.sample_seed, temperature=args.temperature,
                      top_k=args.top_k or None, train_words=train_words):
        print((s.word or "(empty word)") + ("  (new)" if mark and not s.in_train else ""))
    return 0


def add_room_parsers(sub) -> None:
    room = sub.add_parser("room", help="class rooms: open one, show its members and runs, export them as CSV")
    room.add_argument("--db", help="the rooms' database, an SQLAlchemy URL (default: MAKEMORE_DB_URL, else "
                      "classroom.sqlite in the model cache folder)")
    actions = room.add_subparsers(dest="room_command", required=True, parser_class=Parser, metavar="{create,show,export}")
    create = actions.add_parser("create", help="open a room; prints its code, join link and teacher key")
    create.add_argument("--title", required=True, help=f"what students see (at most {limits.MAX_TITLE_CHARS} "
                        "characters)")
    create.add_argument("--data", default=str(DEFAULT_DATA), help="the room's word list (default: data/names.txt); "
                        "every member trains on it")
    create.add_argument("--json", action="store_true", help="one JSON line: code, join_url, teacher_url, teacher_key")
    show = actions.add_parser("show", help="a room's members, runs and polls")
    show.add_argument("code")
    show.add_argument("--json", action="store_true", help="one JSON object with its members, runs and polls lists")
    export = actions.add_parser("export", help="every run of a room as CSV, on stdout; links are full addresses "
                                "on MAKEMORE_APP_URL")
    export.add_argument("code")
    export.add_argument("--polls", action="store_true", help="the room's polls instead: one row per prediction")


def room_create(store, args) -> int:
    from makemore.rooms.links import join_url, teacher_url
    from makemore.rooms.words import room_list
    dataset = WordDataset.from_file(args.data)
    name, fingerprint, words = room_list(dataset)
    new = store.create_room(args.title, name, fingerprint, words)
    summary = {"code": new.code, "title": new.room.title, "dataset": name, "join_url": join_url(new.code),
               "teacher_url": teacher_url(new.code, new.teacher_key), "teacher_key": new.teacher_key}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"Room {new.code} ({new.room.title}) on {name}\n"
              f"  students join at  {summary['join_url']}  (or type the code {new.code})\n"
              f"  teacher link      {summary['teacher_url']}\n"
              f"  teacher key       {new.teacher_key}  (shown only now: keep it to yourself)")
    return 0


def room_show(store, args) -> int:
    board = store.board(args.code)
    room = board.room
    runs = [{"nickname": r.nickname, "stage": r.stage, "model": r.model, "val_loss": round(r.val_loss, 4),
             "first_loss": r.first_loss, "predicted": r.predicted,
             "params": r.params, "seconds": round(r.seconds, 1), "link": r.link, "settings": r.settings,
             "posted_at": r.posted_at} for r in board.runs]
    polls = [{"id": p.id, "stage": p.stage, "model": p.model, "link": p.link, "settings": p.settings,
              "created_at": p.created_at, "open": p.open, "result": p.result, "params": p.params,
              "predictions": [{"nickname": g.nickname, "value": g.value, "made_at": g.made_at} for g in p.predictions],
              "closest": [g.nickname for g in p.closest]} for p in board.polls]
    if args.json:
        print(json.dumps({"code": room.code, "title": room.title, "dataset": room.dataset, "closed": room.closed,
                          "members": [{"nickname": m.nickname, "runs": m.runs} for m in board.members],
                          "runs": runs, "polls": polls}))
        return 0
    state = "closed to new runs" if room.closed else "open"
    print(f"Room {room.code}: {room.title!r} on {room.dataset}, {state}; "
          f"{len(board.members)} members, {len(runs)} runs, {len(polls)} polls")
    for m in board.members:
        print(f"  {m.nickname!r}: {m.runs} run{'s' if m.runs != 1 else ''}")
    for r in runs:
        print(f"  {r['nickname']!r:26} {r['model']:12} val {r['val_loss']:.4f}  {r['params']:>9,} params  "
              f"{r['seconds']:.1f} s")
    for p in polls:
        if p["result"] is not None:
            outcome = f"result val {p['result']:.4f}, closest {', '.join(repr(n) for n in p['closest']) or 'nobody'}"
        else:
            outcome = "open for predictions" if p["open"] else "ended without a result"
        print(f"  poll {p['id']}: {p['model']} {p['link']}  {len(p['predictions'])} predictions, {outcome}")
    return 0


def room_export(store, args) -> int:
    from makemore.rooms.links import app_url
    export = store.export_polls_csv if args.polls else store.export_csv
    sys.stdout.write(export(args.code, app_url()))
    return 0


ROOM_COMMANDS = {"create": room_create, "show": room_show, "export": room_export}


def room_command(args) -> int:
    import sqlalchemy.exc  # imported here: SQLAlchemy only for the room commands

    from makemore.rooms.store import RoomStore
    try:
        store = RoomStore(args.db)
        try:
            return ROOM_COMMANDS[args.room_command](store, args)
        finally:
            store.close()
    except sqlalchemy.exc.ArgumentError:
        raise UsageError(f"--db {args.db!r} is not a database URL (for example sqlite:///rooms.sqlite or "
                         "postgresql+psycopg://user@host/db)") from None
    except sqlalchemy.exc.SQLAlchemyError as e:  # the server is down, a password is wrong, …: its first line
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise UsageError(f"the rooms' database cannot be used: {reason}") from None


# subcommand -> the function that runs it and returns the exit status
COMMANDS = {"models": models_command, "train": train_and_report, "backprop-check": backprop_check,
            "pretrain": pretrain_command, "sample": sample_command, "room": room_command}


def run(argv) -> int:
    args = parse_args(argv)
    return COMMANDS[args.command](args)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except (UsageError, DataError, CheckpointError, ValueError, FloatingPointError) as e:
        print(f"makemore: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("makemore: interrupted", file=sys.stderr)
        return 130
