"""`seqcore translate TEXT...`, `seqcore translate evaluate --tsv FILE`, `seqcore train translate`."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from seqcore.errors import InputError

TRAIN_TASK = "translate"

# `make models`: both translators with the same budget (10 epochs or 95 minutes, whichever comes first, on one CPU
# thread each; their cards say how far each got).
SHIPPED = [
    ["--model", "rnn", "--epochs", "10", "--time-budget", "5700", "--out", "checkpoints"],
    ["--model", "transformer", "--epochs", "10", "--time-budget", "5700", "--out", "checkpoints"],
]
ALPHAS = (0.2, 0.6, 1.0, 1.4)  # length-normalisation strengths tried on validation sentences


def _load(args):
    from seqcore.device import set_threads
    from seqcore.tasks import translation as T

    set_threads()
    return T.load(T.resolve_name(args.model))


def cmd_translate(args) -> list[dict] | dict:
    texts = list(args.texts)
    if args.file:
        texts += [line for line in _read_text(args.file).splitlines() if line.strip()]
    if not texts:
        raise InputError("give one or more Chinese sentences, --file FILE, or use `seqcore translate evaluate`")
    translator, card = _load(args)
    out = []
    for text in texts:
        t = translator.translate(text, beam=args.beam, prefix=args.prefix or "")
        out.append({**t.to_dict(), "model": card["name"], "beam": args.beam})
    return out[0] if len(out) == 1 else out


def _read_text(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None


def read_tsv(path: str, source_column: str, reference_columns: list[str]) -> tuple[list[str], list[list[str]]]:
    """Sources and their references from a tab-separated file with a header; InputError says what is wrong."""
    text = _read_text(path)
    if "\x00" in text:
        raise InputError(f"{path} contains NUL bytes: is it a binary file?")
    rows = list(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    if len(rows) < 2:
        raise InputError(f"{path} needs a header line and at least one row of tab-separated columns")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in [source_column, *reference_columns] if c not in header]
    if missing:
        raise InputError(f"{path} has no column {missing[0]!r}; its columns are {header} (tab-separated)")
    si, ri = header.index(source_column), [header.index(c) for c in reference_columns]
    sources, refs = [], []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path} line {n}: {len(row)} columns, the header has {len(header)}")
        r = [row[i].strip() for i in ri if row[i].strip()]
        if not row[si].strip() or not r:
            raise InputError(f"{path} line {n}: empty source or reference")
        sources.append(row[si].strip())
        refs.append(r)
    return sources, refs


def cmd_evaluate(args) -> dict:
    from seqcore.tasks.translation import score

    sources, refs = read_tsv(args.tsv, args.source_column, args.reference_column or ["reference"])
    translator, card = _load(args)
    hyps = [translator.translate(s, beam=args.beam).translation for s in sources]
    return {**score(hyps, refs), "model": card["name"], "beam": args.beam}


def cmd_train(args) -> dict:
    from seqcore.device import pick_device
    from seqcore.tasks import translation as T

    cfg = T.Config(arch="rnn" if args.model == "lstm" else args.model, epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                              time_budget_s=args.time_budget, max_train_pairs=args.max_pairs,
                              patience=args.patience or None, tgt_vocab=args.vocab, init_from=args.init_from,
                              **({"warmup_frac": args.warmup} if args.warmup is not None else {}))

    def report(p):
        print(f"step {p.step}/{p.total_steps} train {p.train_loss:.3f} val {p.val_loss or 0:.3f} "
              f"{p.elapsed:.0f}s", file=sys.stderr, flush=True)

    translator, card = T.train(cfg, on_progress=report, device=pick_device())
    name = args.name or T.default_name(cfg.arch)
    T.save(translator, card, name, args.out)  # saved before scoring: a failure below loses no training
    n_val = args.eval_n and min(args.eval_n, 600)
    tuned = {a: T.evaluate(_with_alpha(translator, a), "validation", beam=4, limit=n_val)["bleu"] for a in ALPHAS}
    translator.alpha = max(tuned, key=tuned.get)
    print(f"length normalisation on validation: {tuned} -> alpha {translator.alpha}", file=sys.stderr)
    test = T.evaluate(translator, "test", beam=4, limit=args.eval_n or None)
    greedy = T.evaluate(translator, "test", beam=1, limit=args.eval_n or None)
    metrics = {"bleu": test["bleu"], "chrf": test["chrf"], "n": test["n"], "brevity_penalty": test["brevity_penalty"],
               "beam": 4, "greedy_bleu": greedy["bleu"], "greedy_chrf": greedy["chrf"],
               "validation_bleu_by_alpha": tuned,
               "baselines": T.baselines("test", limit=args.eval_n or None)}
    metrics["baseline_translation_memory_bleu"] = metrics["baselines"]["translation_memory"]["bleu"]
    card["metrics"] = metrics
    path = T.save(translator, card, name, args.out)
    return {"checkpoint": str(path), "name": name, "metrics": metrics, "train": card["training"]["result"]}


def _with_alpha(translator, alpha):
    translator.alpha = alpha
    return translator


def register(sub) -> None:
    p = sub.add_parser(
        "translate", help="translate Chinese to English, or `translate evaluate --tsv FILE`",
        description="seqcore translate TEXT... prints one JSON object per text (source, translation, tokens, score); "
                    "seqcore translate evaluate --tsv FILE scores the model on a tab-separated file with a header "
                    "(BLEU and chrF against every reference column given).")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="Chinese sentences, or the word `evaluate`")
    p.add_argument("--model", help="rnn (or lstm), transformer, or a checkpoint name (default: best held-out BLEU)")
    p.add_argument("--beam", type=int, default=4, help="beam width 1-8; 1 = greedy (default 4)")
    p.add_argument("--prefix", help="English the translation must start with (the model continues it)")
    p.add_argument("--file", help="a UTF-8 text file, one sentence per line")
    ev = p.add_argument_group("evaluate only")
    ev.add_argument("--tsv", help="tab-separated file with a header")
    ev.add_argument("--source-column", default="source")
    ev.add_argument("--reference-column", action="append",
                    help="reference column (repeat for several references; default: reference)")
    p.set_defaults(func=_dispatch)


def _dispatch(args):
    if args.texts[:1] == ["evaluate"]:
        if len(args.texts) > 1:
            raise InputError("`seqcore translate evaluate` takes --tsv FILE, not sentences")
        if not args.tsv:
            raise InputError("`seqcore translate evaluate` needs --tsv FILE")
        return cmd_evaluate(args)
    return cmd_translate(args)


def add_train_args(p) -> None:
    p.add_argument("--model", choices=["rnn", "lstm", "transformer"], default="rnn")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: per architecture)")
    p.add_argument("--warmup", type=float, default=None, help="share of steps spent warming up (default 0.04)")
    p.add_argument("--vocab", type=int, default=4000, help="English SentencePiece vocabulary size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--patience", type=int, default=4, help="validations without improvement before stopping; 0 never")
    p.add_argument("--time-budget", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--max-pairs", type=int, default=None, help="train on the first N pairs only (quick runs)")
    p.add_argument("--eval-n", type=int, default=0, help="score on the first N test sentences (default: all)")
    p.add_argument("--init-from", help="continue training this checkpoint (same vocabularies), e.g. at a low --lr")
    p.add_argument("--name", help="checkpoint name (default translate-MODEL)")
    p.add_argument("--out", help="folder for the checkpoint (default: the user checkpoint dir)")
    p.set_defaults(func=cmd_train)
