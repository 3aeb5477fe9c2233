"""`seqcore sentiment predict|evaluate` and `seqcore train sentiment`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from seqcore.errors import InputError

TRAIN_TASK = "sentiment"
# `make models`: the shipped defaults, trained on IMDB + MR train splits within a one-core time budget.
SHIPPED = [
    ["--model", "transformer", "--size", "small", "--epochs", "6", "--time-budget", "2400", "--max-tokens", "512",
     "--out", "checkpoints"],
    ["--model", "lstm", "--size", "large", "--epochs", "3", "--time-budget", "4500", "--eval-every", "200",
     "--out", "checkpoints"],
]


MODEL_HELP = ("lstm, transformer, vader, tfidf (TF-IDF + logistic regression, fitted on the training split first) "
              "or a checkpoint name; default: the checkpoint with the best held-out IMDB accuracy in its card")


def _texts(args) -> list[str]:
    if args.file:
        path = Path(args.file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise InputError(f"no such file: {path}") from None
        except UnicodeDecodeError:
            raise InputError(f"{path} is not UTF-8 text: save it as UTF-8, one review per line") from None
        texts = [line for line in lines if line.strip()]
        if not texts:
            raise InputError(f"{path} has no non-empty lines: put one review per line")
        return texts
    if not args.text:
        raise InputError("give review text as arguments or --file F (one review per line)")
    return list(args.text)


def _predictor(model: str | None):
    """--model: vader, tfidf (fitted now, ~20 s), or a checkpoint (None: the best one); anything with .name and
    .predict(texts)."""
    from seqcore.tasks import sentiment as S

    if model == "vader":
        return S.VADER
    if model == "tfidf":
        print("fitting TF-IDF + logistic regression on the training split...", file=sys.stderr, flush=True)
        return S.fit_tfidf()
    return S.load(model)[0]


def cmd_predict(args):
    texts = _texts(args)
    rows = _predictor(args.model).predict(texts)
    for row in rows:  # one JSON object per line, as the contract says
        extra = {"truncated": True} if row.get("truncated") else {}
        print(json.dumps({k: row[k] for k in ("text", "label", "p_positive")} | extra))
    return None


def cmd_evaluate(args):
    from seqcore.data.reviews import read_labelled_csv
    from seqcore.tasks import sentiment as S

    df = read_labelled_csv(args.csv, args.text_column, args.label_column)
    texts = df["text"].tolist()
    if any(not t.strip() for t in texts):
        raise InputError("the CSV has empty texts: remove those rows")
    model = _predictor(args.model)
    result = S.score(model.probabilities(texts), df["label"].tolist())
    return {"model": model.name, "accuracy": result["accuracy"], "n": result["n"], "confusion": result["confusion"]}


def register(sub) -> None:
    p = sub.add_parser("sentiment", help="review sentiment: predict or evaluate")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    pr = s.add_parser("predict", help="one JSON object per text: label and p_positive")
    pr.add_argument("text", nargs="*", help="review texts")
    pr.add_argument("--file", help="a UTF-8 file with one review per line")
    pr.add_argument("--model", default=None, help=MODEL_HELP)
    pr.set_defaults(func=cmd_predict)
    ev = s.add_parser("evaluate", help="accuracy on a labelled CSV")
    ev.add_argument("--csv", required=True)
    ev.add_argument("--text-column", default="text")
    ev.add_argument("--label-column", default="label")
    ev.add_argument("--model", default=None, help=MODEL_HELP)
    ev.set_defaults(func=cmd_evaluate)


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=["lstm", "transformer"], default="lstm")
    p.add_argument("--source", choices=["both", "imdb", "mr"], default="both")
    p.add_argument("--size", choices=["tiny", "small", "medium", "large"], default="small")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--vocab-size", type=int, default=20000)
    p.add_argument("--time-budget", type=float, default=None, help="seconds; stop training after this")
    p.add_argument("--max-train", type=int, default=None, help="use a random subset of the training split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=100, help="training steps between validations")
    p.add_argument("--name", default=None, help="checkpoint name (default sentiment-MODEL)")
    p.add_argument("--out", default=None, help="folder (default: the user checkpoint dir)")
    p.add_argument("--full", action="store_true", help="store fp32 weights instead of fp16")
    p.set_defaults(func=cmd_train)


def train_command(args) -> str:
    """The `seqcore train sentiment ...` line that reproduces this run (recorded in the model card)."""
    argv = ["seqcore", "train", "sentiment", "--model", args.model, "--source", args.source, "--size", args.size,
            "--epochs", str(args.epochs)]
    for flag, value in (("--time-budget", args.time_budget), ("--max-train", args.max_train),
                        ("--out", args.out), ("--name", args.name)):
        if value is not None:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    for flag, value, default in (("--batch-size", args.batch_size, 64), ("--lr", args.lr, 3e-3),
                                 ("--max-tokens", args.max_tokens, 256), ("--vocab-size", args.vocab_size, 20000),
                                 ("--seed", args.seed, 0), ("--eval-every", args.eval_every, 100)):
        if value != default:
            argv += [flag, str(value)]
    return shlex.join(argv + (["--full"] if args.full else []))


def cmd_train(args):
    from seqcore.checkpoints import check_name
    from seqcore.tasks import sentiment as S

    cfg = S.Config(model=args.model, source=args.source, size=args.size, epochs=args.epochs,
                   batch_size=args.batch_size, lr=args.lr, max_tokens=args.max_tokens, vocab_size=args.vocab_size,
                   time_budget_s=args.time_budget, max_train=args.max_train, seed=args.seed,
                   eval_every=args.eval_every)
    cfg.check()
    name = check_name(args.name or S.default_name(args.model))

    def report(p):
        val = f"{p.val_loss:.4f}" if p.val_loss is not None else "-"
        print(f"step {p.step}/{p.total_steps} train {p.train_loss:.4f} val {val} {p.elapsed:.0f}s",
              file=sys.stderr, flush=True)

    model, card = S.train(cfg, on_progress=report)
    card["command"] = train_command(args)
    weights = S.save(model, card, name, args.out, half=not args.full)
    return {"checkpoint": str(weights), "metrics": card["metrics"], "train_seconds": card["train_seconds"],
            "stopped": card["stopped"]}
