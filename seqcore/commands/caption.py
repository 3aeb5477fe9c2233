"""`seqcore caption IMAGE...`, `seqcore caption evaluate`, `seqcore train caption`."""

from __future__ import annotations

import sys
from pathlib import Path

from seqcore.errors import InputError

TRAIN_TASK = "caption"

# `make models`: both decoders on both datasets, plus the compositional-split pair the page compares.
SHIPPED = [
    ["--model", "lstm", "--dataset", "shapes", "--n-train", "8000", "--epochs", "20", "--patience", "0",
     "--alpha-c", "0", "--out", "checkpoints"],
    ["--model", "transformer", "--dataset", "shapes", "--out", "checkpoints"],
    # Digit strings sit on a long plateau (the decoder knows how many digits, not which) before reading breaks
    # out (after ~400 steps for the LSTM, ~800 for the Transformer), so they get more scenes and every epoch.
    ["--model", "lstm", "--dataset", "digits", "--n-train", "8000", "--epochs", "25", "--patience", "0",
     "--alpha-c", "0.1", "--out", "checkpoints"],
    ["--model", "transformer", "--dataset", "digits", "--n-train", "8000", "--epochs", "25", "--patience", "0",
     "--out", "checkpoints"],
    # alpha_c 1 was the default when this LSTM was trained; kept so `make models` rebuilds the same model.
    ["--model", "lstm", "--dataset", "shapes", "--split", "compositional", "--n-train", "4000", "--epochs", "10",
     "--alpha-c", "1", "--out", "checkpoints"],
    ["--model", "transformer", "--dataset", "shapes", "--split", "compositional", "--n-train", "4000",
     "--epochs", "10", "--out", "checkpoints"],
]


def _model_name(args) -> str:
    from seqcore.tasks.captioning import default_name

    return args.name or default_name(args.model, args.dataset, getattr(args, "split", "iid"))


def cmd_caption(args) -> list[dict] | dict:
    from seqcore.device import set_threads
    from seqcore.tasks import captioning as C

    set_threads()
    if not args.images:
        raise InputError("give one or more image files, or use `seqcore caption evaluate`")
    model, card = C.load(_model_name(args))
    arrays, notes = [], []
    for path in args.images:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{path}: no such file")
        image, note = C.preprocess_upload(p.read_bytes(), p.name)
        arrays.append(image)
        notes.append(note)
    caps = C.caption_images(model, arrays, beam=args.beam)
    out = [{"image": path, "caption": c.text, "words": c.words, "model": card["name"],
            **({"notes": n} if n else {})} for path, c, n in zip(args.images, caps, notes, strict=False)]
    return out[0] if len(out) == 1 else out


def cmd_evaluate(args) -> dict:
    from seqcore.device import set_threads
    from seqcore.tasks import captioning as C

    set_threads()
    name = _model_name(args)
    model, card = C.load(name)
    trained_on = card.get("data", {}).get("dataset")
    if trained_on and trained_on != args.dataset:
        print(f"note: {name} was trained on {trained_on}, scoring it on {args.dataset}", file=sys.stderr)
    out = C.evaluate(model, args.dataset, limit=args.n, seed=args.seed, beam=args.beam, split=args.split,
                     baseline=not args.no_baseline)
    return {"model": name, **out}


def cmd_train(args) -> dict:
    from seqcore.device import pick_device
    from seqcore.tasks import captioning as C

    cfg = C.Config(decoder=args.model, dataset=args.dataset, split=args.split, n_train=args.n_train,
                   epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                   time_budget_s=args.time_budget, patience=args.patience or None, eval_n=args.eval_n,
                   **({} if args.alpha_c is None else {"alpha_c": args.alpha_c}))
    cfg.check()

    def report(p):
        print(f"step {p.step}/{p.total_steps} train {p.train_loss:.3f} val {p.val_loss or 0:.3f} "
              f"{p.elapsed:.0f}s", file=sys.stderr, flush=True)

    model, card = C.train(cfg, on_progress=report, device=pick_device())
    name = _model_name(args)
    path = C.save(model, card, name, args.out)
    return {"checkpoint": str(path), "name": name, "metrics": card["metrics"], "train": card["training"]}


def register(sub) -> None:
    p = sub.add_parser(
        "caption", help="caption images, or `caption evaluate` on fresh held-out scenes",
        description="seqcore caption IMAGE... prints one JSON object per image; "
                    "seqcore caption evaluate [--model M] [--dataset D] [--n N] [--seed S] scores a model on "
                    "freshly generated held-out scenes (BLEU-4, exact match, attention localisation).")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="PNG / JPEG / ... files, or the word `evaluate`")
    p.add_argument("--model", choices=["lstm", "transformer"], default="lstm", help="decoder (default lstm)")
    p.add_argument("--dataset", choices=["shapes", "digits"], default="shapes", help="scenes (default shapes)")
    p.add_argument("--name", help="checkpoint name (default caption-MODEL-DATASET[-comp])")
    p.add_argument("--beam", type=int, default=1, help="beam width; 1 = greedy (default)")
    ev = p.add_argument_group("evaluate only")
    ev.add_argument("--split", choices=["iid", "compositional"], default="iid",
                    help="compositional: every scene holds a colour-shape pair kept out of training")
    ev.add_argument("--n", type=int, default=500, help="held-out scenes to generate (default 500)")
    ev.add_argument("--seed", type=int, default=1234, help="seed of the held-out stream (default 1234)")
    ev.add_argument("--no-baseline", action="store_true", help="skip the nearest-neighbour baseline")
    p.set_defaults(func=_dispatch)


def _dispatch(args):
    if args.images[:1] == ["evaluate"]:
        if len(args.images) > 1:
            raise InputError("`seqcore caption evaluate` takes no image files")
        return cmd_evaluate(args)
    return cmd_caption(args)


def add_train_args(p) -> None:
    p.add_argument("--model", choices=["lstm", "transformer"], default="lstm")
    p.add_argument("--dataset", choices=["shapes", "digits"], default="shapes")
    p.add_argument("--split", choices=["iid", "compositional"], default="iid",
                   help="compositional: some colour-shape pairs never appear in training (shapes only)")
    p.add_argument("--n-train", type=int, default=6000, help="training scenes (default 6000)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-budget", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--patience", type=int, default=4,
                   help="epochs without a better validation loss before stopping early; 0 = never stop early")
    p.add_argument("--alpha-c", type=float, default=None,
                   help="weight of the LSTM's doubly stochastic attention penalty (default 0.1)")
    p.add_argument("--eval-n", type=int, default=500, help="held-out scenes for the model card's metrics "
                   "(0 = none)")
    p.add_argument("--name", help="checkpoint name (default caption-MODEL-DATASET[-comp])")
    p.add_argument("--out", help="folder for the checkpoint (default: the user checkpoint dir)")
    p.set_defaults(func=cmd_train)
