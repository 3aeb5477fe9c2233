"""Translation benchmark: held-out BLEU / chrF of the shipped translators beside the baselines, names, latency.

Rows: each shipped translator (greedy and beam 4) and the two baselines on the Tatoeba test split (sentences
never seen in training, every reference used), the same on 50 everyday sentences written for this benchmark
(bench/data/everyday-zh-en.tsv, not from Tatoeba), unseen Latin names carried across, and the time to translate
one sentence with beam 4 on a warm model.
Run: python bench/translation.py [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import markdown_table, write_section  # noqa: E402
from seqcore.commands.translate import read_tsv  # noqa: E402
from seqcore.data import tatoeba  # noqa: E402
from seqcore.device import set_threads  # noqa: E402
from seqcore.tasks import translation as T  # noqa: E402
from seqcore.tasks.translation_baselines import gloss, score, translation_memory  # noqa: E402

EVERYDAY = Path(__file__).resolve().parent / "data" / "everyday-zh-en.tsv"
# Latin names that never occur in the Chinese of the training split, in sentence frames of everyday Chinese.
NAMES = ["mika", "Anya", "Lukas", "Priya", "Mateo", "Ingrid", "Kofi", "Yuki", "Dmitri", "Leila",
         "Oskar", "Zanele", "Teodor", "Amara", "Rafael", "Sven", "Noor", "Elif", "Tariq", "Wanjiru"]
FRAMES = ["我是{}。", "{}是我的朋友。", "我昨天见到了{}。", "{}喜欢喝茶。", "{}在哪儿？",
          "{}是老师。", "请告诉{}我马上来。", "{}会说中文。", "我和{}一起去学校。", "{}今天很忙。"]


def name_probe(translator) -> dict:
    """How many of 200 sentences with an unseen Latin name keep that name in the English."""
    kept, methods = 0, {}
    for name in NAMES:
        for frame in FRAMES:
            t = translator.translate(frame.format(name), beam=4)
            kept += name in t.translation
            methods[t.names["method"]] = methods.get(t.names["method"], 0) + 1
    return {"kept": kept, "of": len(NAMES) * len(FRAMES), "methods": methods}


def latency(translator, text: str = T.EXAMPLE, runs: int = 20) -> float:
    translator.translate(text, beam=4)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        translator.translate(text, beam=4)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="score the first N test sentences only")
    args = parser.parse_args()
    set_threads()
    torch.manual_seed(0)
    test = tatoeba.split("test")[: args.limit] if args.limit else tatoeba.split("test")
    refs = [ex.references for ex in test]
    sources, everyday_refs = read_tsv(str(EVERYDAY), "source", ["reference", "reference2"])
    tm = translation_memory()
    rows, names, examples = [], [], []
    for arch in ("rnn", "transformer"):
        translator, card = T.load(T.default_name(arch))
        for beam in (1, 4):
            start = time.perf_counter()
            hyps = [translator.translate(ex.source, beam=beam).translation for ex in test]
            speed = len(test) / (time.perf_counter() - start)
            s = score(hyps, refs)
            e = score([translator.translate(x, beam=beam).translation for x in sources], everyday_refs)
            decoding = "greedy" if beam == 1 else f"beam 4 (alpha {translator.alpha})"
            rows.append({"model": card["name"], "decoding": decoding,
                         "Tatoeba BLEU": s["bleu"], "Tatoeba chrF": s["chrf"], "brevity": s["brevity_penalty"],
                         "everyday BLEU": e["bleu"], "everyday chrF": e["chrf"], "sentences/s": round(speed, 1),
                         "train min": round((card.get("train_seconds") or 0) / 60),
                         "parameters": f"{sum(p.numel() for p in translator.model.parameters()) / 1e6:.1f}M"})
            print(rows[-1], flush=True)
            if beam == 4:
                wrong = [(ex, h) for ex, h in zip(test, hyps, strict=True) if h not in ex.references]
                examples += [{"model": card["name"], "source": ex.source, "output": h, "reference": ex.references[0]}
                             for ex, h in wrong[:: max(1, len(wrong) // 4)][:4]]
        probe = name_probe(translator)
        names.append({"model": card["name"], "name kept": f"{probe['kept']} / {probe['of']}",
                      "methods": ", ".join(f"{k}: {v}" for k, v in probe["methods"].items()),
                      "beam 4, one sentence (s)": round(latency(translator), 3)})
        print(names[-1], flush=True)
    for label, fn in (("translation memory", tm.translate), ("dictionary gloss", lambda xs: [gloss(x) for x in xs])):
        s, e = score(fn([ex.source for ex in test]), refs), score(fn(sources), everyday_refs)
        rows.append({"model": label, "decoding": "baseline", "Tatoeba BLEU": s["bleu"], "Tatoeba chrF": s["chrf"],
                     "brevity": s["brevity_penalty"], "everyday BLEU": e["bleu"], "everyday chrF": e["chrf"],
                     "sentences/s": "", "train min": "", "parameters": ""})
    body = (
        f"Tatoeba test split: {len(test):,} distinct Chinese sentences never seen in training (split by distinct "
        f"Simplified sentence, seed {tatoeba.SPLIT_SEED}), each scored against all of its English references "
        f"({sum(len(r) for r in refs):,} in all). Everyday: {len(sources)} sentences written for this benchmark, "
        "not from Tatoeba (checked: none is in the corpus), two references each. BLEU = sacrebleu corpus BLEU, "
        "13a tokenisation, case-insensitive; chrF = sacrebleu chrF. Beam 4 uses the length-normalisation strength "
        "alpha chosen on validation sentences (model card). Translation memory = English of the most similar "
        "training sentence by character 1-2-gram TF-IDF; dictionary gloss = CC-CEDICT first senses word by word. "
        "Sentences/s: one sentence at a time on this machine's CPU, shared with other jobs.\n\n"
        + markdown_table(rows, ".2f")
        + "\n\nUnseen names: 20 Latin names (none occurs in the training Chinese) in 10 everyday frames; a name "
        "counts as kept when it appears in the English exactly as typed. Latency: median of 20 warm runs of "
        f"“{T.EXAMPLE}” with beam 4.\n\n" + markdown_table(names)
        + "\n\nTypical errors (beam 4, outputs that match no reference):\n\n" + markdown_table(examples)
    )
    write_section("translation", "Translation (Tatoeba Chinese -> English)", body)


if __name__ == "__main__":
    main()
