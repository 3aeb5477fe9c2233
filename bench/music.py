"""Music benchmark: held-out bits/char vs a 5-gram, bar-length honesty of 100 samples (raw model and
meter-aware decoding), generation speed, and the MIT lab LSTM (embedding 256, LSTM 1024, Adam 5e-3,
batch 8, sequence 100) trained for the same wall time as the shipped LSTM on this machine.

Run: SEQCORE_THREADS=1 python bench/music.py [--samples 100] [--skip-mit]
     SEQCORE_THREADS=1 python bench/music.py --sampling-only [--samples 100]   (shipped models' samples only:
     no training, no bits/char, prints the table and leaves BENCHMARKS.md alone)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import markdown_table, write_section  # noqa: E402
from seqcore.data.music import join_tunes, load_corpus  # noqa: E402
from seqcore.device import set_threads  # noqa: E402
from seqcore.tasks import music  # noqa: E402
from seqcore.tasks.music_abc import bar_check  # noqa: E402
from seqcore.tasks.music_ngram import CharNGram  # noqa: E402

SAMPLE_COLUMNS = ("tunes with >= 8 matching bars, raw", "tunes with >= 8 matching bars, meter-aware",
                  "bars matching, raw", "bars matching, meter-aware", "chars/s, raw", "chars/s, meter-aware")


def sample_stats(lm: music.CharLM, n: int) -> dict:
    """Bar-length honesty of n seeded tunes (no prime, default temperature, 600 chars), raw and constrained."""
    out = {}
    for constrain, name in ((False, "raw"), (True, "meter-aware")):
        s = music.bar_stats(lm, n, constrain=constrain)
        out[f"tunes with >= 8 matching bars, {name}"] = s["tunes_with_8_matching_bars"]
        out[f"bars matching, {name}"] = s["bar_match_share"]
        out[f"chars/s, {name}"] = s["chars_per_second"]
    return {k: out[k] for k in SAMPLE_COLUMNS}


def sampling_only(n: int) -> None:
    """The shipped models' sample stats, printed (BENCHMARKS.md is written only by a full run)."""
    rows = []
    for kind in music.KINDS:
        lm, _ = music.load(kind)
        print(f"sampling {n} tunes from {lm.name}, raw and meter-aware", file=sys.stderr, flush=True)
        with torch.inference_mode():
            rows.append({"model": lm.name, **sample_stats(lm, n)})
    print(markdown_table(rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--skip-mit", action="store_true", help="leave out the MIT-configuration training run")
    ap.add_argument("--sampling-only", action="store_true",
                    help="only sample the shipped models (raw and meter-aware) and print the table")
    args = ap.parse_args()
    set_threads()
    if args.sampling_only:
        sampling_only(args.samples)
        return
    corpus = load_corpus()
    test = join_tunes(corpus.test)
    rows = []

    t0 = time.perf_counter()
    ngram = CharNGram(5).fit("\n\n" + join_tunes(corpus.train))
    rows.append({"model": "5-gram, Witten-Bell back-off (baseline)", "params": "-",
                 "train s": round(time.perf_counter() - t0, 1), "test bits/char": round(ngram.bits_per_char(test), 3),
                 **dict.fromkeys(SAMPLE_COLUMNS, "-")})
    real = [bar_check(t) for t in corpus.test]
    real_good = round(sum(b.matching >= 8 for b in real) / len(real), 3)
    real_bars = round(sum(b.matching for b in real) / sum(b.bars for b in real), 3)
    rows.append({"model": "real test tunes (reference)", "params": "-", "train s": "-", "test bits/char": "-",
                 **dict.fromkeys(SAMPLE_COLUMNS, "-"),
                 "tunes with >= 8 matching bars, raw": real_good, "bars matching, raw": real_bars})

    shipped = {}
    for kind in music.KINDS:
        lm, _ = music.load(kind)
        shipped[kind] = lm
        print(f"sampling {args.samples} tunes from {lm.name}", file=sys.stderr, flush=True)
        with torch.inference_mode():
            rows.append({"model": f"{lm.name} (shipped, {lm.card['config']['size']})",
                         "params": lm.card["hyperparameters"]["n_params"], "train s": lm.card["train_seconds"],
                         "test bits/char": round(music.bits_per_char(lm, test), 3), **sample_stats(lm, args.samples)})

    mit_note = ""
    if not args.skip_mit:
        budget = float(shipped["lstm"].card["train_seconds"])
        print(f"training the MIT configuration for {budget:.0f} s", file=sys.stderr, flush=True)
        cfg = music.Config(kind="lstm", size="mit", seq_len=100, epochs=50, batch_size=8, lr=5e-3, time_budget_s=budget,
                           eval_every=200, patience=None,
                           train_options=dict(weight_decay=0.0, warmup_frac=0.01, min_lr_frac=1.0))  # constant lr
        lm, card = music.train(cfg, device=torch.device("cpu"))
        report = {"n_params": card["hyperparameters"]["n_params"], "train": card["training"]["result"]}
        with torch.inference_mode():
            mit_bpc = music.bits_per_char(lm, test)
            rows.append({"model": "MIT lab LSTM (256 emb, 1024 units, batch 8, seq 100), same wall time",
                         "params": report["n_params"], "train s": round(report["train"]["seconds"]),
                         "test bits/char": round(mit_bpc, 3), **sample_stats(lm, max(10, args.samples // 5))})
        ours = rows[2]["test bits/char"]
        mit_note = (f"At the same wall time ({budget:.0f} s on one core; it managed {report['train']['steps']} steps "
                    f"of batch 8), the MIT configuration reaches {mit_bpc:.3f} bits/char on the test tunes; the "
                    f"shipped LSTM reaches {ours:.3f}, lower by {mit_bpc - ours:.3f} bits/char "
                    f"({(mit_bpc - ours) / mit_bpc:.0%}). Its sample stats use {max(10, args.samples // 5)} tunes.")

    body = (
        f"Test split: {len(corpus.test)} held-out tunes ({len(test):,} characters) from music21's oneills1850 + "
        f"ryansMammoth, split by tune with seed 0. Bits/char are scored in {music.SCORE_WINDOW}-character windows "
        f"(model state reset per window; the 5-gram sees the whole stream, which favours it). Samples: "
        f"{args.samples} tunes per model, no prime, temperature {music.DEFAULT_TEMPERATURE}, "
        f"seeds 0..{args.samples - 1}, at most 600 characters; a bar matches when its note lengths add up "
        "to the meter (M:, L:). *Raw* samples the model as it is; *meter-aware* masks, before each character, "
        "the characters that would overfill a bar, close it early (a pick-up first bar may be short), break "
        "the ABC grammar or end the tune before 8 whole bars: the model's distribution renormalised over the "
        "allowed continuations (seqcore.tasks.music_meter). A pick-up bar and a last bar cut at 600 "
        "characters count as not matching.\n\n"
        + markdown_table(rows) + ("\n\n" + mit_note if mit_note else "")
        + "\n\nThe machine is shared (2 cores, several jobs), so train seconds and chars/s are noisy."
    )
    write_section("music", "Music generation (folk tunes, character level)", body)
    print(body)


if __name__ == "__main__":
    main()
