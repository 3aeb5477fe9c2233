"""Music benchmark: held-out bits/char vs a 5-gram, bar-length honesty of 100 samples, generation speed,
and the MIT lab LSTM (embedding 256, LSTM 1024, Adam 5e-3, batch 8, sequence 100) trained for the same
wall time as the shipped LSTM on this machine.

Run: SEQCORE_THREADS=1 python bench/music.py [--samples 100] [--skip-mit]
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
from seqcore.train import TrainConfig  # noqa: E402


def sample_stats(lm: music.CharLM, n: int) -> dict:
    good = bars = matching = chars = 0
    seconds = 0.0
    for seed in range(n):
        g = music.generate(lm, "", length=600, temperature=music.DEFAULT_TEMPERATURE, seed=seed)
        b = bar_check(g.abc)
        good += b.matching >= 8
        bars, matching = bars + b.bars, matching + b.matching
        chars, seconds = chars + g.n_new, seconds + g.seconds
    return {"tunes with >= 8 matching bars": good / n, "bars matching": matching / max(1, bars),
            "chars/s": round(chars / seconds)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--skip-mit", action="store_true", help="leave out the MIT-configuration training run")
    args = ap.parse_args()
    set_threads()
    corpus = load_corpus()
    test = join_tunes(corpus.test)
    rows = []

    t0 = time.perf_counter()
    ngram = CharNGram(5).fit("\n\n" + join_tunes(corpus.train))
    rows.append({"model": "5-gram, Witten-Bell back-off (baseline)", "params": "-",
                 "train s": round(time.perf_counter() - t0, 1), "test bits/char": round(ngram.bits_per_char(test), 3),
                 "tunes with >= 8 matching bars": "-", "bars matching": "-", "chars/s": "-"})
    real = [bar_check(t) for t in corpus.test]
    rows.append({"model": "real test tunes (reference)", "params": "-", "train s": "-", "test bits/char": "-",
                 "tunes with >= 8 matching bars": sum(b.matching >= 8 for b in real) / len(real),
                 "bars matching": sum(b.matching for b in real) / sum(b.bars for b in real), "chars/s": "-"})

    shipped = {}
    for kind in music.KINDS:
        lm = music.load_lm(kind)
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
        cfg = TrainConfig(epochs=50, batch_size=8, lr=5e-3, weight_decay=0.0, time_budget_s=budget, eval_every=200,
                          patience=None, warmup_frac=0.01, min_lr_frac=1.0)  # constant lr, as the lab's Adam
        lm, report = music.train_music("lstm", "mit", seq_len=100, config=cfg, corpus=corpus,
                                       device=torch.device("cpu"))
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
        "to the meter (M:, L:).\n\n"
        + markdown_table(rows) + ("\n\n" + mit_note if mit_note else "")
        + "\n\nThe machine is shared (2 cores, several jobs), so train seconds and chars/s are noisy."
    )
    write_section("music", "Music generation (folk tunes, character level)", body)
    print(body)


if __name__ == "__main__":
    main()
