"""`seqcore music generate|score` and `seqcore train music`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seqcore.errors import InputError

TRAIN_TASK = "music"

# `make models` rebuilds the shipped defaults with exactly these arguments.
SHIPPED = [
    ["--model", "lstm", "--size", "small", "--seq-len", "100", "--batch-size", "32", "--lr", "3e-3",
     "--max-steps", "1000", "--time-budget", "900", "--eval-every", "100", "--out", "checkpoints",
     "--name", "music-lstm"],
    ["--model", "transformer", "--size", "small", "--seq-len", "128", "--batch-size", "32", "--lr", "3e-3",
     "--max-steps", "480", "--time-budget", "900", "--eval-every", "40", "--out", "checkpoints",
     "--name", "music-transformer"],
]


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
    from seqcore.tasks.music_abc import bar_check, parse_abc

    set_threads()
    prime = args.prime.replace("\\n", "\n") if args.prime else ""
    lm = music.load_lm(args.model)
    g = music.generate(lm, prime, length=args.length, temperature=args.temperature, top_k=args.top_k,
                       top_p=args.top_p, seed=args.seed, constrain=not args.no_constrain)
    parsed = parse_abc(g.abc)
    out = {"model": lm.name, "abc": g.abc, "new_chars": g.n_new, "seconds": round(g.seconds, 3),
           "chars_per_second": round(g.chars_per_second, 1), "ended_tune": g.ended, "constrained": g.constrained,
           "bars_matching": g.bars_matching, "bars_total": g.bars_total,
           "notes_parsed": parsed.summary(), "bars": bar_check(g.abc).to_dict()}
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
    lm = music.load_lm(args.model)
    return music.score_abc(lm, _read(args.abc, "ABC file"))


def register(sub) -> None:
    p = sub.add_parser("music", help="generate folk tunes, or score ABC tunes with a music model")
    msub = p.add_subparsers(dest="music_command", required=True, metavar="ACTION")
    g = msub.add_parser("generate", help="write a tune (JSON: abc text, notes parsed, bars_matching of bars_total, "
                                         "seconds)")
    g.add_argument("--model", default="lstm", help="lstm, transformer, or a checkpoint name (default lstm)")
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
    s.add_argument("--model", default="lstm", help="lstm, transformer, or a checkpoint name (default lstm)")
    s.set_defaults(func=cmd_score)


def add_train_args(p: argparse.ArgumentParser) -> None:
    from seqcore.data.music import COLLECTIONS

    p.add_argument("--model", choices=["lstm", "transformer"], default="lstm")
    p.add_argument("--size", default="small", help="tiny | small | medium | mit (LSTM 1024, the MIT lab's)")
    p.add_argument("--collections", nargs="+", default=list(COLLECTIONS), choices=list(COLLECTIONS))
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--time-budget", type=float, default=None, help="seconds of training at most")
    p.add_argument("--eval-every", type=int, default=100, help="steps between held-out evaluations")
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=20, help="tunes sampled for the bar check in the card")
    p.add_argument("--out", default=None, help="folder for the checkpoint (default: the user checkpoint dir)")
    p.add_argument("--name", default=None, help="checkpoint name (default music-MODEL-SIZE)")
    p.set_defaults(func=cmd_train)


def evaluate_lm(lm, corpus, n_samples: int = 20, seed: int = 0) -> dict:
    """Held-out bits per char (val, test), the 5-gram baseline, and the bar check on sampled tunes, raw and
    with meter-aware decoding."""
    from seqcore.data.music import join_tunes
    from seqcore.tasks import music
    from seqcore.tasks.music_abc import bar_check
    from seqcore.tasks.music_ngram import CharNGram

    test_text = join_tunes(corpus.test)
    ngram = CharNGram(5).fit("\n\n" + join_tunes(corpus.train))
    shares = {}
    for constrain in (False, True):
        bars = matching = good = 0
        for i in range(n_samples):
            g = music.generate(lm, "", length=600, temperature=music.DEFAULT_TEMPERATURE, seed=seed + i,
                               constrain=constrain)
            bars, matching, good = bars + g.bars_total, matching + g.bars_matching, good + (g.bars_matching >= 8)
        shares[constrain] = (round(good / max(1, n_samples), 3), round(matching / max(1, bars), 3))
    return {
        "test_bits_per_char": round(music.bits_per_char(lm, test_text), 4),
        "val_bits_per_char": round(music.bits_per_char(lm, join_tunes(corpus.val)), 4),
        "baseline_5gram_test_bits_per_char": round(ngram.bits_per_char(test_text), 4),
        "score_window_chars": music.SCORE_WINDOW,
        "samples": n_samples,
        "sample_temperature": music.DEFAULT_TEMPERATURE,
        "samples_with_8_matching_bars": shares[False][0],  # the raw model
        "sample_bar_match_share": shares[False][1],
        "constrained_samples_with_8_matching_bars": shares[True][0],  # meter-aware decoding
        "constrained_sample_bar_match_share": shares[True][1],
        "corpus_test_bar_match_share": round(
            sum(bar_check(t).matching for t in corpus.test) / max(1, sum(bar_check(t).bars for t in corpus.test)), 3),
    }


def cmd_train(args) -> dict:
    import torch

    from seqcore.checkpoints import save_checkpoint, user_dir
    from seqcore.data.music import load_corpus
    from seqcore.device import device_name, pick_device
    from seqcore.tasks import music
    from seqcore.train import TrainConfig

    device = pick_device()
    corpus = load_corpus(tuple(args.collections), seed=args.seed)
    cfg = TrainConfig(epochs=args.epochs, max_steps=args.max_steps, time_budget_s=args.time_budget,
                      batch_size=args.batch_size, lr=args.lr, eval_every=args.eval_every, patience=args.patience,
                      seed=args.seed)

    def progress(p):
        if hasattr(p, "val_loss"):
            print(f"step {p.step}/{p.total_steps} train {p.train_loss:.3f} val {p.val_loss:.3f} "
                  f"({p.elapsed:.0f}s)", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    lm, report = music.train_music(args.model, args.size, seq_len=args.seq_len, config=cfg, dropout=args.dropout,
                                   corpus=corpus, on_progress=progress, device=device)
    lm.model.half().float()  # measure the weights as shipped (fp16), not the fp32 ones before saving
    with torch.inference_mode():
        metrics = evaluate_lm(lm, corpus, args.samples)
    name = args.name or f"music-{args.model}-{args.size}"
    lm.card["name"] = name
    card = music.build_card(lm, corpus, report, metrics, cfg, device_name(device))
    out = Path(args.out) if args.out else user_dir()
    path = save_checkpoint(lm.model, card, out / name, half=True)
    return {"checkpoint": str(path), "metrics": metrics, "train": report["train"], "n_params": report["n_params"],
            "total_seconds": round(time.perf_counter() - t0, 1)}
