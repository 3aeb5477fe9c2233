"""`seqcore music generate|score` and `seqcore train music`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seqcore.errors import InputError

TRAIN_TASK = "music"

# `make models` rebuilds the shipped defaults with exactly these arguments (the rest: music.Config's defaults).
SHIPPED = [
    ["--model", "lstm", "--size", "small", "--seq-len", "200", "--batch-size", "16", "--lr", "1e-2", "--epochs", "100",
     "--max-steps", "2400", "--time-budget", "1800", "--eval-every", "200", "--patience", "3", "--samples", "100",
     "--out", "checkpoints", "--name", "music-lstm"],
    ["--model", "transformer", "--size", "small", "--seq-len", "256", "--positions", "sinusoidal", "--batch-size", "16",
     "--lr", "6e-3", "--epochs", "100", "--max-steps", "4000", "--time-budget", "2400", "--eval-every", "500",
     "--out", "checkpoints", "--name", "music-transformer"],
]
MODEL_HELP = "lstm, transformer, or a checkpoint name (default: the lowest held-out bits/char)"


def _read(path: str, what: str, limit_mb: float = 5) -> str:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {path} does not exist")
    if p.stat().st_size > limit_mb * 1e6:
        raise InputError(f"{what} {path} is larger than {limit_mb:g} MB")
    return p.read_text(encoding="utf-8", errors="replace")


def cmd_generate(args) -> dict:
    from seqcore.device import set_threads
    from seqcore.tasks import music

    set_threads()
    prime = args.prime.replace("\\n", "\n") if args.prime else ""
    lm, _ = music.load(args.model)
    g = music.generate(lm, prime, length=args.length, temperature=args.temperature, top_k=args.top_k,
                       top_p=args.top_p, seed=args.seed, constrain=not args.no_constrain)
    parsed = music.parse_abc(g.abc)
    out = {"model": lm.name, "abc": g.abc, "new_chars": g.n_new, "seconds": round(g.seconds, 3),
           "chars_per_second": round(g.chars_per_second, 1), "ended_tune": g.ended, "constrained": g.constrained,
           "bars_matching": g.bars_matching, "bars_total": g.bars_total,
           "notes_parsed": parsed.summary(), "bars": music.bar_check(g.abc).to_dict(),
           **music.tune_report(g.abc, music.index_for(lm.card))}  # nearest training tune, overlap, parts, repeats
    if args.abc:
        Path(args.abc).write_text(g.abc)
        out["abc_file"] = args.abc
    if args.midi:
        if not parsed.midi:
            raise InputError("the generated text has no playable notes, so there is no MIDI to write")
        Path(args.midi).write_bytes(parsed.midi)
        out["midi_file"] = args.midi
    if args.wav:
        from seqcore import audio

        if not parsed.notes:
            raise InputError("the generated text has no playable notes, so there is no audio to write")
        Path(args.wav).write_bytes(audio.wav_bytes(audio.synthesize(parsed.notes)))
        out["wav_file"] = args.wav
    return out


def cmd_score(args) -> dict:
    from seqcore.device import set_threads
    from seqcore.tasks import music

    set_threads()
    lm, _ = music.load(args.model)
    return music.score_abc(lm, _read(args.abc, "ABC file"))


def register(sub) -> None:
    p = sub.add_parser("music", help="generate folk tunes, or score ABC tunes with a music model")
    msub = p.add_subparsers(dest="music_command", required=True, metavar="ACTION")
    g = msub.add_parser("generate", help="write a tune (JSON: abc text, notes parsed, bars_matching of bars_total, "
                                         "seconds, the nearest training tune with its overlap and shared_run, close "
                                         "when overlap >= close_threshold, parts, balanced_repeats, whole_parts)")
    g.add_argument("--model", default=None, help=MODEL_HELP)
    g.add_argument("--prime", default="", help="start of the tune, e.g. 'M:6/8\\nL:1/8\\nK:D\\n' (\\n = newline)")
    g.add_argument("--length", type=int, default=400, help="most characters to write (default 400)")
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--top-p", type=float, default=None)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--no-constrain", action="store_true",
                   help="sample the raw model: no meter-aware decoding (by default no bar may overfill or close "
                        "early, and the ABC grammar is kept)")
    g.add_argument("--abc", help="also write the tune to this .abc file")
    g.add_argument("--wav", help="also write audio to this .wav file")
    g.add_argument("--midi", help="also write this .mid file")
    g.set_defaults(func=cmd_generate)
    s = msub.add_parser("score", help="bits per character of a model on the tunes in an ABC file")
    s.add_argument("--abc", required=True, help="ABC file with one or more tunes")
    s.add_argument("--model", default=None, help=MODEL_HELP)
    s.set_defaults(func=cmd_score)


# --flag -> music.Config field; a flag left out keeps the Config default (the one place defaults live).
CONFIG_FLAGS = {"model": "kind", "size": "size", "collections": "collections", "seq_len": "seq_len",
                "batch_size": "batch_size", "lr": "lr", "dropout": "dropout", "positions": "positions",
                "epochs": "epochs", "max_steps": "max_steps", "time_budget": "time_budget_s",
                "eval_every": "eval_every", "patience": "patience", "seed": "seed"}


def add_train_args(p: argparse.ArgumentParser) -> None:
    from seqcore.data.music import COLLECTIONS

    default = "(default: music.Config's)"
    p.add_argument("--model", choices=["lstm", "transformer"], help=f"model kind {default}")
    p.add_argument("--size", help="tiny | small | medium | mit (LSTM 1024, the MIT lab's) | deep (Transformer: 4 "
                   f"layers of 128) {default}")
    p.add_argument("--collections", nargs="+", choices=list(COLLECTIONS), help=f"tune collections {default}")
    p.add_argument("--seq-len", type=int, help=f"characters per training window {default}")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--dropout", type=float)
    p.add_argument("--positions", choices=["sinusoidal", "learned"], help=f"the Transformer's positions {default}")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--time-budget", type=float, help="seconds of training at most")
    p.add_argument("--eval-every", type=int, help="steps between held-out evaluations")
    p.add_argument("--patience", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--samples", type=int, default=20, help="tunes sampled for the bar check in the card")
    p.add_argument("--out", default=None, help="folder for the checkpoint (default: the user checkpoint dir)")
    p.add_argument("--name", default=None, help="checkpoint name (default music-MODEL-SIZE)")
    p.set_defaults(func=cmd_train)


def config_from_args(args):
    """music.Config with the flags given on the command line; the rest are the Config's defaults."""
    from seqcore.tasks import music

    given = {field: getattr(args, flag) for flag, field in CONFIG_FLAGS.items() if getattr(args, flag) is not None}
    if "collections" in given:
        given["collections"] = tuple(given["collections"])
    return music.Config(**given)


def cmd_train(args) -> dict:
    from seqcore.checkpoints import info_at
    from seqcore.device import pick_device
    from seqcore.tasks import music

    cfg = config_from_args(args)

    def progress(p):
        if hasattr(p, "val_loss"):
            print(f"step {p.step}/{p.total_steps} train {p.train_loss:.3f} val {p.val_loss:.3f} "
                  f"({p.elapsed:.0f}s)", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    lm, card = music.train(cfg, on_progress=progress, device=pick_device())
    name = args.name or music.default_name(cfg)
    path = music.save(lm, card, name, args.out)  # saved before scoring: a failure below loses no training
    lm, card = music.load(info_at(path.with_suffix("")))  # scored as shipped: the fp16 weights just written
    card["metrics"] = music.evaluate(lm, samples=args.samples)
    path = music.save(lm, card, name, args.out)
    return {"checkpoint": str(path), "metrics": card["metrics"], "train": card["training"]["result"],
            "n_params": card["hyperparameters"]["n_params"], "total_seconds": round(time.perf_counter() - t0, 1)}
