"""`seqcore attention --model NAME --text TEXT` and `seqcore train attention`."""

from __future__ import annotations

import shlex

from seqcore.checkpoints import shipped_dir

TRAIN_TASK = "attention"
SHIPPED = [["--shipped", "--steps", "1500", "--seconds", "900"]]


def register(subparsers) -> None:
    p = subparsers.add_parser("attention", help="attention weights per layer and head of any Transformer")
    p.add_argument("--model", default=None,
                   help="checkpoint name (`seqcore info` lists them); default: the explorer's own model")
    p.add_argument("--text", default=None, help="input text; default: the model's own example")
    p.add_argument("--digits", type=int, default=4, help="decimals kept in the weights (default 4)")
    p.set_defaults(func=cmd_attention)


def cmd_attention(args) -> dict:
    from seqcore.tasks.attention_maths import attention_report

    return attention_report(args.model, args.text, digits=args.digits)


def add_train_args(parser) -> None:
    parser.add_argument("--model", choices=["transformer"], default="transformer",
                        help="the explorer's model is a character-level causal Transformer")
    parser.add_argument("--steps", type=int, default=1500, help="optimiser steps; the LR schedule spans them")
    parser.add_argument("--seconds", type=float, default=900, help="safety time limit (default 900)")
    parser.add_argument("--epochs", type=int, default=40, help="most epochs (early stopping usually ends sooner)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="checkpoint name (default attention-char-transformer)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", default=None, help="folder for the checkpoint (default: the user checkpoint dir)")
    where.add_argument("--shipped", action="store_true", help=f"write into the shipped folder {shipped_dir()}")
    parser.set_defaults(func=cmd_train)


def cmd_train(args) -> dict:
    import sys

    from seqcore.checkpoints import check_name
    from seqcore.tasks import attention

    cfg = attention.Config(steps=args.steps, seconds=args.seconds, epochs=args.epochs, seed=args.seed)
    cfg.check()
    name = check_name(args.name or attention.DEFAULT_NAME)  # before training: a bad name fails at once
    argv = ["seqcore", "train", "attention", "--steps", str(args.steps), "--seconds", f"{args.seconds:g}",
            "--epochs", str(args.epochs), "--seed", str(args.seed)]
    if args.name:
        argv += ["--name", args.name]
    argv += ["--shipped"] if args.shipped else (["--out", args.out] if args.out else [])

    def report(p):
        val = f"{p.val_loss:.3f}" if p.val_loss is not None else "-"
        print(f"step {p.step}/{p.total_steps} train {p.train_loss:.3f} val {val} {p.elapsed:.0f}s", file=sys.stderr)

    model, card = attention.train(cfg, on_progress=report)
    card["command"] = shlex.join(argv)
    path = attention.save(model, card, name, shipped_dir() if args.shipped else args.out)
    return {"path": str(path), "metrics": card["metrics"], "train_seconds": card["train_seconds"],
            "data": card["data"]["split"]}
