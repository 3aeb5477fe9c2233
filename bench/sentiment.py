"""Sentiment benchmark: held-out accuracy on IMDB and MR for the shipped BiLSTM and Transformer, TF-IDF + logistic
regression (fitted here on the same training split), VADER and the majority class; the plain sentences
(seqcore.tasks.sentiment_plain) each gets right; predictions per second at batch 1 and 64; training seconds from
the model cards (TF-IDF: its fit time here).

Run: python bench/sentiment.py   (writes the `sentiment` section of BENCHMARKS.md)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import markdown_table, write_section  # noqa: E402
from seqcore.data.reviews import load_splits  # noqa: E402
from seqcore.tasks import sentiment as S  # noqa: E402
from seqcore.tasks.sentiment_plain import plain_check  # noqa: E402

REFERENCES = [
    {"reference (published, from scratch unless noted)": "Keras example: 2-layer BiLSTM, 200 tokens", "IMDB": "84.3%",
     "MR": ""},
    {"reference (published, from scratch unless noted)": "Keras example: one Transformer block, 200 tokens",
     "IMDB": "87.5%", "MR": ""},
    {"reference (published, from scratch unless noted)": "Kim 2014 CNN-rand (10-fold)", "IMDB": "", "MR": "76.1%"},
    {"reference (published, from scratch unless noted)": "TF-IDF + logistic regression (classic baseline)",
     "IMDB": "~90.7%", "MR": "~77.5%"},
]


def throughput(predict, texts: list[str], batch: int, seconds: float = 5.0) -> float:
    """Texts per second, calling predict on `batch` texts at a time for about `seconds`."""
    done, start, i = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        chunk = [texts[(i + k) % len(texts)] for k in range(batch)]
        predict(chunk)
        done += batch
        i += batch
    return done / (time.perf_counter() - start)


def missed(wrong: dict[str, list]) -> str:
    """The plain sentences each predictor got wrong, as a short list."""
    lines = ["Plain sentences got wrong (P(positive) in brackets):", ""]
    for name, rows in wrong.items():
        shown = "; ".join(f"\"{m['text']}\" ({m['p_positive']:.2f})" for m in rows) or "none"
        lines.append(f"- {name}: {shown}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="at most N test reviews per source (quick check)")
    parser.add_argument("--dry", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = load_splits("both")
    test = splits.test
    seconds = 1.0 if args.n else 5.0
    majority = S.majority_label(splits.train["label"])
    rows, wrong = [], {}
    subsets = {"imdb": test[test["source"] == "imdb"].head(args.n),
               "mr": test[test["source"] == "rotten_tomatoes"].head(args.n)}

    def accuracy_row(name, model, card=None):
        predict, row = model.predict, {"model": name}
        for key, df in subsets.items():
            p = [r["p_positive"] for r in predict(df["text"].tolist())]
            row[f"{key.upper()} test acc"] = f"{S.score(p, df['label'].tolist())['accuracy']:.1%}"
        plain = plain_check(model)
        row["plain sentences"] = f"{plain['right']}/{plain['n']}"
        wrong[name] = plain["wrong"]
        imdb_texts = subsets["imdb"]["text"].tolist()
        row["pred/s batch 1"] = f"{throughput(predict, imdb_texts, 1, seconds):.0f}"
        row["pred/s batch 64"] = f"{throughput(predict, imdb_texts, 64, seconds):.0f}"
        row["train s"] = f"{card['train_seconds']:.0f}" if card else "-"
        row["params"] = f"{card['params']:,}" if card else "-"
        return row

    rows.append({"model": "majority class",
                 **{f"{k.upper()} test acc": f"{(df['label'] == majority).mean():.1%}"
                    for k, df in subsets.items()},
                 "plain sentences": "-", "pred/s batch 1": "-", "pred/s batch 64": "-", "train s": "-", "params": "-"})
    rows.append(accuracy_row("VADER lexicon", S.VADER))
    tfidf = S.fit_tfidf(splits)
    rows.append(accuracy_row("TF-IDF (word 1-2 grams) + logistic regression", tfidf,
                             {"train_seconds": tfidf.fit_seconds, "params": len(tfidf.features) + 1}))
    cut = []
    for kind in ("lstm", "transformer"):
        try:
            sm, _ = S.load(kind)
        except Exception as e:  # a missing checkpoint is reported, not hidden
            print(f"skip {kind}: {e}", file=sys.stderr)
            continue
        card = {**sm.card, "params": sum(p.numel() for p in sm.net.parameters())}
        rows.append(accuracy_row(f"{sm.name} ({sm.card['arch']})", sm, card))
        cut.append(f"{sm.max_tokens} ({sm.name})")
    n = {k: len(df) for k, df in subsets.items()}
    body = (
        f"Held-out test splits (fixed seed {splits.describe()['split']['seed']}, 80/10/10 per source): "
        f"IMDB n={n['imdb']}, MR n={n['mr']}. Models trained by `make models` on one CPU core shared with other "
        f"work; inputs cut to the first {' or '.join(cut)} tokens. TF-IDF + LR: scikit-learn, C=8 "
        f"chosen on the validation split, fitted here in {tfidf.fit_seconds:.0f} s. The default model of "
        f"`seqcore sentiment` and the page: {S.best_name()} (best held-out IMDB accuracy in its card). "
        "Throughput on IMDB test reviews, one thread. 'plain sentences': of the 24 short reviews of "
        "seqcore/tasks/sentiment_plain.py (negation, contrast), how many each model gets right (the tests hold the "
        "default model to its count).\n\n"
        + markdown_table(rows) + "\n\n" + markdown_table(REFERENCES) + "\n\n" + missed(wrong)
    )
    if not args.dry:
        write_section("sentiment", "Sentiment (IMDB, Rotten Tomatoes MR)", body)
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
