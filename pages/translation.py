"""Translation: Chinese to English with an LSTM + attention and a Transformer, side by side, and inside."""

from __future__ import annotations

import time

import streamlit as st

from pages import _shared as kit
from pages import _translation_figures as fig
from pages._shared import checkpoint_problem, how_it_works, show_job, start_job, trained, unreadable_shipped
from seqcore.checkpoints import file_version, keep, list_checkpoints
from seqcore.data import tatoeba
from seqcore.data.translation_vocab import EOS
from seqcore.errors import CheckpointError, SeqcoreError
from seqcore.tasks import translation as T

JOB = "translation-job"
TITLES = {"rnn": "LSTM + attention", "transformer": "Transformer"}
EXAMPLE = "我是mika。"

st.title("Translation")
links = kit.PageLinks("translation")  # a link carries the sentence, beam, prefix and both models
st.write("Chinese in, English out: a bidirectional LSTM with additive attention and a Transformer, trained here on "
         "everyday sentences from [Tatoeba](https://tatoeba.org) (CC-BY 2.0). Type a sentence and look inside: where "
         "each model looked for every word, the beam search's tree, and the words it nearly chose.")
how_it_works(
    [r"h_i = [\overrightarrow{h}_i; \overleftarrow{h}_i] = \mathrm{BiLSTM}(x_1..x_S),\qquad "
     r"s_t = \mathrm{LSTM}(E y_{t-1},\ s_{t-1})",
     r"e_{t,i} = v^\top \tanh(W_h h_i + W_s s_t),\quad \alpha_{t,i} = \mathrm{softmax}_i(e_{t,i}),\quad "
     r"c_t = \textstyle\sum_i \alpha_{t,i} h_i",
     r"p(y_t \mid y_{<t}, x) = \mathrm{softmax}\big(E \tanh(W_o [s_t; c_t])\big)",
     r"\mathrm{CrossAttn}(Q{=}\text{English so far}, K{=}V{=}\text{encoded Chinese}) = "
     r"\mathrm{softmax}\!\big(QK^\top/\sqrt{d_k}\big)V",
     r"\text{beam score} = \frac{\sum_t \log p(y_t \mid y_{<t}, x)}{\big((5 + |y|)/6\big)^{\alpha}}"],
    "**Problem shape: many-to-many.** A sequence in, a sequence of another length out: the form of machine "
    "translation. The other forms are here too: many-to-one on the [Sentiment](/sentiment) page, one-to-many on "
    "[Image captioning](/captioning) and [Music generation](/music). An encoder reads the whole Chinese sentence; "
    "a decoder writes English one piece at a time. Early encoder-decoders squeezed the sentence into one fixed "
    "vector; **attention** removed that bottleneck: at every output step the decoder takes a fresh weighted "
    "average $c_t$ of all encoder states, so long sentences keep their detail and the weights show an alignment. "
    "The Transformer drops recurrence and does the same with scaled dot-product attention (self-attention in "
    "both halves, cross-attention between them). Chinese is read as characters (Traditional converted to "
    "Simplified with OpenCC), English is written as SentencePiece subwords. **Beam search** keeps the best few "
    "partial translations at each step; their log-probabilities are divided by a length penalty so short outputs "
    "are not favoured. **Names** such as *mika* never occur in training: each run of Latin letters is replaced by "
    "a name the model knows (汤姆 -> Tom), and swapped back in the English. **Baselines:** a translation memory "
    "(the English of the most similar training sentence, by character TF-IDF) and a CC-CEDICT word-by-word gloss.",
    limits="small models trained for about an hour on 50,000 short everyday sentences: they know Tatoeba's "
           "vocabulary and style, not news or technical text, and attention is not an explanation.",
)


@st.cache_resource(max_entries=8, show_spinner="Loading the translator...")
def load_translator(name: str, version: tuple):
    """Shared by all sessions and read-only: decoding runs under torch.inference_mode()."""
    return T.load(name)


def translators() -> dict[str, object]:
    """name -> registry entry for every readable translator (user-trained first)."""
    return {c.name: c for c in list_checkpoints(T.TASK)}


def get(name: str, found: dict):
    return load_translator(name, file_version(found[name].stem))


def start_training(arch: str, minutes: float):
    """Train a translator in the background (time-capped), save it to the user registry with its card."""

    def run(on_progress, stop):
        cfg = T.page_config(arch, minutes)
        translator, card = T.train(cfg, on_progress=on_progress, stop=stop)
        if not card["training"]["result"]["steps"]:
            return None
        card["command"] = f"trained on the translation page ({arch}, {minutes} min)"
        card["metrics"] = T.evaluate(translator, "test", beam=4, limit=200)
        name = f"translate-{arch}-mine-{time.strftime('%H%M%S')}"
        removed = keep(T.save, translator, card, name)[1]  # saved with the kept models, within the quota
        return {"name": name, "metrics": card["metrics"], "removed": [m.name for m in removed]}

    return start_job(JOB, run, name="translation")


found = translators()
problems = unreadable_shipped([T.default_name(a) for a in TITLES])
for name in (T.default_name(a) for a in TITLES):
    if name in found and name not in problems:  # a readable card over corrupt or mismatched weights
        try:
            get(name, found)
        except CheckpointError as e:
            problems[name] = str(e)
busy = kit.busy(JOB)
for name, why in problems.items():
    arch_ = name.removeprefix("translate-")
    checkpoint_problem(f"The shipped translator {name} cannot be used: {why}. Retrain trains a {TITLES[arch_]} for "
                       "3 minutes into your checkpoints (`make models` rebuilds the shipped one).",
                       key=f"translation-retrain-{arch_}", name=name, busy=busy, where="under Train your own",
                       retrain=lambda a=arch_: start_training(a, 3))

# ---------------------------------------------------------------- input
examples = [EXAMPLE] + [ex.source for ex in tatoeba.split("test")[:12]]
c1, c2 = st.columns([2, 1])
pick = c1.selectbox("Example (held-out Tatoeba sentences after the first)", examples, key="translation-example")
box, names = f"translation-text-{examples.index(pick)}", list(found) or ["(none)"]  # a fresh box per example
links.restore([kit.text("text", box, pick), kit.number("beam", "translation-beam", 1, 8, 4),
               kit.text("prefix", "translation-prefix", "", cap=100)]
              + [kit.choice(f"model{k + 1}", f"translation-model-{k}", names, d if d in names else names[0])
                 for k, d in enumerate(T.default_name(a) for a in TITLES)])
text = c1.text_area("Chinese sentence", key=box, height=80)
beam = c2.slider("Beam width (1 = greedy)", 1, 8, key="translation-beam")
prefix = c2.text_input("Start the English with (prefix forcing)", key="translation-prefix",
                       help="The model must begin with these words and continues from there.")
chosen = [c2.selectbox(f"Model {k + 1}", names, key=f"translation-model-{k}") for k in range(len(TITLES))]
links.publish()

results = {}
try:
    T.check_text(text)
except SeqcoreError as e:
    st.error(str(e))
    names_ok = False
else:
    names_ok = True
if not found:
    st.info("No translator yet: train one below (`make models` rebuilds the shipped ones).")
elif names_ok:
    for k, (col, name) in enumerate(zip(st.columns(len(chosen)), chosen, strict=True)):
        with col:
            if name in problems:  # said once, in the banner above, with its Retrain button
                st.caption(f"{name} cannot be used (see above): pick another model.")
                continue
            try:
                translator, card = get(name, found)
                result = translator.translate(text, beam=beam, prefix=prefix, record=True)
            except SeqcoreError as e:
                st.error(str(e))
                continue
            st.subheader(f"{TITLES.get(translator.arch, translator.arch)}: {name}")
            # inert: a prefix or a carried-over Latin name puts the user's own text in the output
            st.container(key=f"translation-out-{k}").markdown(f"### {kit.inert(result.translation) or '(empty)'}")
            st.caption(f"log-prob {result.score:.2f} · normalised {result.normalized_score:.2f} · "
                       f"{'greedy' if beam == 1 else f'beam {beam}'} · {result.seconds * 1000:.0f} ms · "
                       f"held-out BLEU {card.get('metrics', {}).get('bleu', '?')}")
            if result.names["substitutions"]:
                subs = ", ".join(f"{a} -> {b}" for a, b in result.names["substitutions"])
                st.caption(f"Names: {result.names['method']} ({subs}, swapped back in the English)")
            elif result.names["method"].startswith("none worked"):
                st.caption("Names: no stand-in came through, so the Latin letters were translated as they are.")
            results[name] = (translator, result)
    if results:
        ex, sim = T.translation_memory().lookup([text])[0]
        st.caption(f"Baselines for this sentence: translation memory “{ex.references[0]}” (nearest training "
                       f"sentence {ex.source}, similarity {sim:.2f}); dictionary gloss “{T.gloss(text)}”.")

# ---------------------------------------------------------------- inside the models
if results:
    which = st.radio("Look inside", list(results), horizontal=True, key="translation-inside")
    translator, result = results[which]
    ids = [i for i in result.search.best.tokens if i != EOS]
    forced = translator.forced("".join(result.source_tokens), ids)
    att = forced["attention"].numpy()  # (T, L, H, S)
    out_tokens = result.tokens + ["<eos>"]
    tabs = st.tabs(["Alignment", "Beam search", "Next-word choices"], key="translation-view", on_change="rerun")
    if tabs[0].open:
        with tabs[0]:
            weights = att[:, 0, 0]
            if translator.arch == "transformer":
                choice = st.selectbox("Cross-attention", fig.head_choices(att.shape[1], att.shape[2]),
                                      key="translation-head")
                weights = fig.pick_heads(att, choice, att.shape[2])
            st.plotly_chart(fig.alignment(weights, result.source_tokens, out_tokens, f"{which}: attention"),
                            key="translation-alignment")
            st.caption("Row t: the weights over the source while the model wrote output token t (each row sums to 1).")
    if tabs[1].open:
        with tabs[1]:
            st.plotly_chart(fig.beam_tree(result.search.tree, translator.tgt_vocab.piece, result.search.best.tokens,
                                          len(translator.tgt_vocab.encode(prefix.strip())) if prefix.strip() else 0),
                            key="translation-tree")
            st.dataframe([{"translation": translator.tgt_vocab.decode(h.tokens), "log-prob": round(h.score, 3),
                           "normalised": round(h.normalized(translator.alpha), 3), "finished": h.finished}
                          for h in result.search.hypotheses], hide_index=True, key="translation-hypotheses")
    if tabs[2].open:
        with tabs[2]:
            st.dataframe(fig.next_token_table(forced["top"], out_tokens), hide_index=True, key="translation-topk")
            st.caption("At each step of the final translation: the token written and the model's five likeliest "
                       "next tokens with their probabilities. Type a different start above to see the rest change.")

# ---------------------------------------------------------------- held-out scores
st.header("Held-out scores")
rows, baseline_rows = [], []
for c in found.values():
    m = c.card.get("metrics", {})
    if "bleu" in m:
        rows.append({"model": c.name, "source": c.source, "BLEU": m["bleu"], "chrF": m.get("chrf"),
                     "greedy BLEU": m.get("greedy_bleu"), "sentences": m.get("n"), "train min":
                     round((c.card.get("train_seconds") or 0) / 60), "device": c.card.get("device")})
        for base, label in (("translation_memory", "translation memory"), ("dictionary_gloss", "dictionary gloss")):
            b = m.get("baselines", {}).get(base)
            if b and not any(r["model"] == label for r in baseline_rows):
                baseline_rows.append({"model": label, "source": "baseline", "BLEU": b["bleu"], "chrF": b["chrf"],
                             "sentences": b["n"]})
rows = sorted(rows, key=lambda r: -r["BLEU"]) + baseline_rows
if rows:
    st.dataframe(rows, hide_index=True, key="translation-scores")
    st.caption("Tatoeba test split (sentences never seen in training, scored against all their references), beam 4, "
               "sacrebleu BLEU (case-insensitive) and chrF, from each model card (`seqcore train translate`).")

if results and st.button("Translate a random sample of test sentences", key="translation-sample",
                         icon=":material/casino:", help="12 held-out sentences, both models (beam 4) and the memory"):
    st.session_state["translation-sample-seed"] = st.session_state.get("translation-sample-seed", -1) + 1
if results and "translation-sample-seed" in st.session_state:
    sample = T.sample_test(12, seed=st.session_state["translation-sample-seed"])
    memory = T.translation_memory().translate([ex.source for ex in sample])
    table = [{"Chinese": ex.source, **{name: tr.translate(ex.source, beam=4).translation
                                       for name, (tr, _) in results.items()},
              "translation memory": mem, "references": " | ".join(ex.references)}
             for ex, mem in zip(sample, memory, strict=True)]
    st.dataframe(table, hide_index=True, key="translation-sample-table")
    st.caption("Typical errors show here: dropped or invented words, a wrong tense, a name or number changed. "
               "A translation can be right and still match no reference word for word, which BLEU counts as wrong.")

# ---------------------------------------------------------------- train your own
st.header("Train your own")
t1, t2 = st.columns(2)
arch = t1.selectbox("Model", list(TITLES), format_func=TITLES.get, key="translation-train-model")
minutes = t2.slider("Minutes", 1, 10, 3, key="translation-train-minutes")
kit.quota_warning(doing="Saving the model a run trains")  # runs are saved to the kept models (home page)
if st.button("Train", key="translation-train", icon=":material/model_training:", disabled=kit.busy(JOB)):
    start_training(arch, minutes)
show_job(JOB)
if (done := trained(st.session_state.get(JOB))) is not None:
    m = done["metrics"]
    st.success(f"Saved {done['name']}: BLEU {m['bleu']:.1f}, chrF {m['chrf']:.1f} on {m['n']} test sentences. "
               "Pick it as Model 1 or 2 above.")
    kit.removed_note(done["removed"])
