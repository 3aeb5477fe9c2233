"""Sentiment: a BiLSTM and a Transformer read a review token by token, beside VADER and TF-IDF + LR baselines."""

from __future__ import annotations

import contextlib
import time

import pandas as pd
import streamlit as st

from pages._sentiment_figures import confusion_figure, running_figure, token_heatmap, weights_figure
from pages._shared import (
    checkpoint_problem,
    how_it_works,
    safe_filename,
    show_job,
    start_job,
    trained,
    unreadable_shipped,
    upload_too_big,
)
from seqcore.checkpoints import save_checkpoint, user_dir
from seqcore.data.reviews import load_splits, read_labelled_csv
from seqcore.errors import SeqcoreError
from seqcore.tasks import sentiment as S

VADER = "VADER lexicon"
TFIDF = "TF-IDF + logistic regression"
OWN = "Your model (this session)"
MAX_BATCH = 2000
# The Train tab's defaults; "Retrain" after a broken shipped checkpoint uses them too.
TRAIN_DEFAULTS = dict(source="mr", size="small", epochs=2, rows=3000)
EXAMPLES = {
    "Mixed review": "The acting is superb and the score is lovely, but the plot is a dull, predictable mess.",
    "Positive": "One of the best films I have seen in years: funny, moving and beautifully shot.",
    "Negative": "A boring waste of two hours. The dialogue is awful and the ending makes no sense.",
    "Negation": "This movie is not good, and it is not even bad in an entertaining way.",
    "Other language + emoji": "Une très belle surprise, je recommande ! 😀",
}


@st.cache_resource(max_entries=8, show_spinner="Loading the model...")
def cached_model(source: str, name: str) -> S.SentimentModel:
    """A registry checkpoint, shared by every session: read-only, eval mode, used under inference_mode."""
    info = next(c for c in S.sentiment_checkpoints() if c.source == source and c.name == name)
    return S.load_from_info(info)


@st.cache_resource(show_spinner="Reading the reviews...")
def cached_splits(source: str):
    """The fixed-seed splits (read-only DataFrames; never modified by the page)."""
    return load_splits(source)


@st.cache_resource(show_spinner="Fitting TF-IDF + logistic regression on the training reviews (once per server, "
                                "about 20 s)...")
def cached_tfidf() -> S.TfidfBaseline:
    """The bag-of-words baseline, fitted on the sequence models' training split; read-only, shared."""
    return S.fit_tfidf(cached_splits("both"))


def tfidf() -> S.TfidfBaseline:
    """Fit (or fetch) the baseline and remember that this session has it, so later reruns show it."""
    st.session_state["sent-tfidf-ready"] = True
    return cached_tfidf()


def tfidf_ready() -> bool:
    """Whether this session asked for the baseline: it is fitted only on request, never on the first render."""
    return bool(st.session_state.get("sent-tfidf-ready"))


def model_options() -> dict[str, tuple[str, str] | str]:
    """Label -> (registry source, name) for checkpoints, best held-out IMDB accuracy first (so the first is the
    page's default model), or OWN for the session's model."""
    opts: dict[str, tuple[str, str] | str] = {}
    for c in S.ranked_checkpoints():
        kind = "BiLSTM" if "lstm" in c.arch else "Transformer"
        opts.setdefault(f"{c.name} ({kind}, {c.source})", (c.source, c.name))
    if st.session_state.get("sent-own") is not None:
        opts[OWN] = OWN
    return opts


def broken_shipped(options: dict) -> dict[tuple[str, str], str]:
    """(source, name) -> why, for each shipped checkpoint that cannot be loaded (a good load is cached),
    including the default ones the registry skipped because their card is corrupt or weights missing."""
    defaults = [S.default_name(m) for m in ("lstm", "transformer")]
    out = {("shipped", name): why for name, why in unreadable_shipped(defaults).items()}
    for choice in options.values():
        if choice != OWN and choice[0] == "shipped":
            try:
                cached_model(*choice)
            except SeqcoreError as e:
                out[choice] = str(e)
    return out


def start_training(model: str, source: str, size: str, epochs: int, rows: int):
    """The page's training job; its model becomes OWN for this session (saved only when asked)."""
    splits = cached_splits(source)
    args = dict(source=source, size=size, epochs=int(epochs), max_train=int(rows), splits=splits,
                vader=False, time_budget_s=300, eval_every=50)
    return start_job("sent-job", lambda on_progress, stop: S.train_sentiment(
        model, on_progress=on_progress, stop=stop, **args), name="sentiment")


def get_model(choice) -> S.SentimentModel:
    return st.session_state["sent-own"] if choice == OWN else cached_model(*choice)


def predict_with(label: str, choice, texts: list[str]) -> tuple[list[dict], float]:
    """Predictions and the seconds they took (loading the model is not counted)."""
    predict = S.vader_predict if label == VADER else tfidf().predict if label == TFIDF else get_model(choice).predict
    start = time.perf_counter()
    rows = predict(texts)
    return rows, time.perf_counter() - start


st.title("Sentiment")
st.caption("Sequence in, one label out: two neural classifiers trained from scratch on real IMDB and Rotten "
           "Tomatoes reviews, beside the VADER lexicon and a TF-IDF + logistic regression bag of words. The first "
           "model listed is the default: the best on held-out IMDB reviews, read from the model cards.")
how_it_works(
    [r"h_t = o_t \odot \tanh(c_t),\quad c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t,\quad "
     r"f_t, i_t, o_t = \sigma(W [h_{t-1}, x_t] + b)",
     r"a_t = \mathrm{softmax}_t\big(v^\top \tanh(W_a h_t)\big),\qquad "
     r"P(\text{positive}) = \sigma\Big(w^\top \sum_t a_t h_t + b\Big)",
     r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V"],
    "**Many-to-one.** A review becomes lower-cased word and punctuation tokens (vocabulary from the training "
    "split only; unseen words become `<unk>`), cut to the first 256 (BiLSTM) or 512 (Transformer) tokens. "
    "The **BiLSTM** reads it forwards "
    "and backwards (states h_t = [h_t forward; h_t backward]); the **Transformer encoder** (one pre-LN block, "
    "sinusoidal positions) lets every token attend to every other. Both pool their states with learned "
    "attention weights a_t and a linear head gives P(positive). Trained with binary cross-entropy, AdamW, "
    "gradient clipping and backpropagation (through time, for the LSTM). **Baselines:** the majority class "
    "of the training split; VADER, a hand-built lexicon with rules for negation and emphasis; and TF-IDF + "
    "logistic regression, a bag of words and word pairs weighted by how rare they are, with one learned "
    "weight each, fitted on the same training reviews (word order beyond pairs is invisible to it). "
    "**How the model reads** runs the model on every prefix of the text (the LSTM's running state through "
    "its head; the Transformer's prediction on each prefix).",
    limits="these models know English movie reviews of 2000s IMDB and Rotten Tomatoes; sarcasm, other domains "
           "and other languages fool them, and a CPU-sized model from scratch stays below pretrained ones.",
)

_job = st.session_state.get("sent-job")
if trained(_job) is not None and st.session_state.get("sent-own-job") is not _job:
    # adopt each finished job's model once, before the pickers are drawn
    st.session_state["sent-own"] = _job.result.model
    st.session_state["sent-own-job"] = _job
options = model_options()
broken = broken_shipped(options)
# a checkpoint that cannot load goes last, so the pickers' default is the best model that works
options = dict(sorted(options.items(), key=lambda item: item[1] in broken))
for (_, _name), _why in broken.items():
    _arch = next((c.arch for c in S.sentiment_checkpoints() if c.name == _name), _name)
    _kind = "lstm" if "lstm" in _arch else "transformer"
    checkpoint_problem(
        f"The shipped checkpoint {_name} cannot be used: {_why}. Press Retrain to train a {TRAIN_DEFAULTS['size']} "
        f"{_kind} for your session with the default settings (`make models` rebuilds the shipped file); the other "
        f"models work as before.", key=f"sent-retrain-{_name}", name=_name,
        busy=_job is not None and _job.running, where="under Train your own",
        retrain=lambda k=_kind: start_training(k, **TRAIN_DEFAULTS))
if not options:
    st.error("No sentiment model is available yet: train one below under **Train your own**, or run "
             "`seqcore train sentiment --model lstm`. VADER works meanwhile.")

tab_predict, tab_batch, tab_eval, tab_train = st.tabs(["Predict", "Batch", "Held-out evaluation", "Train your own"])

# ----------------------------------------------------------------------------- predict
with tab_predict:
    example = st.selectbox("Example", list(EXAMPLES), key="sent-example")
    text = st.text_area("Review", value=EXAMPLES[example], height=120,
                        key=f"sent-text-{list(EXAMPLES).index(example)}",  # a fresh box per example
                        help="Any text; the BiLSTM reads its first 256 tokens, the Transformer 512")
    st.session_state["sent-current-text"] = text
    if not text.strip():
        st.error("The review is empty: type a few words (or pick an example).")
    else:
        rows = []
        with st.container(key="sent-result"):
            for label, choice in [*options.items(), *([(TFIDF, TFIDF)] if tfidf_ready() else []), (VADER, VADER)]:
                if choice in broken:  # said at the top of the page, with a Retrain button
                    continue
                try:
                    out, seconds = predict_with(label, choice, [text])
                except SeqcoreError as e:
                    st.error(f"{label}: {e}")
                    continue
                r = out[0]
                rows.append({"model": label, "label": r["label"], "P(positive)": r["p_positive"],
                             "latency (ms)": round(seconds * 1000, 1)})
            st.dataframe(pd.DataFrame(rows), hide_index=True, key="sent-table",
                         column_config={"P(positive)": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                                        format="%.3f")})
        models = []  # the models that loaded (one that cannot has said so in the table above), default first
        for choice in options.values():
            with contextlib.suppress(SeqcoreError):
                models.append(get_model(choice))
        cut = [m for m in models if S.encode(m.vocab, text, m.max_tokens).truncated]
        if cut:
            st.warning(f"The text has {S.encode(cut[0].vocab, text, cut[0].max_tokens).n_tokens} tokens; "
                       + ", ".join(f"{m.name} reads only the first {m.max_tokens}" for m in cut)
                       + " (VADER and TF-IDF read it all).", icon=":material/content_cut:")
        sm = models[0] if models else None
        if sm is not None:
            enc = S.encode(sm.vocab, text, sm.max_tokens)
            unknown = enc.ids.count(1)
            if enc.ids and unknown == len(enc.ids):
                st.warning(f"None of the {len(enc.ids)} tokens is a word the models know, so their answer is a "
                           "guess: write the review in English words.", icon=":material/translate:")
            if enc.ids and (unknown / len(enc.ids) > 0.3 or any(ord(ch) > 0x2FF for ch in text)):
                st.info(f"{unknown} of {len(enc.ids)} tokens are unknown to the models: they know English movie "
                        "reviews, so other languages and emoji are mostly guesswork.", icon=":material/translate:")

        if options:
            st.subheader("How the model reads")
            read_label = st.selectbox("Model", list(options), key="sent-read-model")
            try:
                sm = get_model(options[read_label])
                tokens, p = sm.running_probability(text)
                ex = sm.explain(text)
            except SeqcoreError as e:
                st.error(str(e))
            else:
                st.plotly_chart(running_figure(tokens, p, "P(positive) after each token"), key="sent-running")
                st.plotly_chart(token_heatmap(ex["tokens"], {"attention pooling": ex["attention"],
                                                             "saliency (grad x input)": ex["saliency"]}),
                                key="sent-heatmap")
                st.caption("Blue: more pooling weight / pushes towards positive; red: pushes towards negative. "
                           "Attention weights and saliency describe the computation; they are not an "
                           "explanation of why the model is right or wrong.")

    st.subheader("The bag-of-words baseline")
    if not tfidf_ready():
        st.write("TF-IDF + logistic regression scores a review by the words and word pairs it contains, each with "
                 "one learned weight. It is fitted on request (about 20 s, once per server).")
        st.button("Fit TF-IDF + logistic regression", key="sent-tfidf-fit", icon=":material/functions:",
                  on_click=tfidf)
    else:
        with st.container(key="sent-tfidf"):
            base = tfidf()
            if text.strip():
                st.plotly_chart(weights_figure(base.explain(text), "This review's n-grams: tf-idf × weight",
                                               "share of the logit"), key="sent-tfidf-text")
            top = base.top_ngrams(12)
            c1, c2 = st.columns(2)
            c1.plotly_chart(weights_figure(top["positive"], "Most positive n-grams"), key="sent-tfidf-pos")
            c2.plotly_chart(weights_figure(top["negative"], "Most negative n-grams"), key="sent-tfidf-neg")
            st.caption(f"Fitted in {base.fit_seconds:.0f} s on {base.train_rows:,} training reviews (IMDB + MR), "
                       f"{len(base.features):,} n-grams. A weight is what one unit of tf-idf adds to the logit; the "
                       "logit is the bias plus the sum of all the text's terms (the largest are drawn), so unlike "
                       "attention weights these bars are the model's whole computation.")

# ----------------------------------------------------------------------------- batch
with tab_batch:
    mode = st.radio("Input", ["Paste lines", "Upload CSV"], horizontal=True, key="sent-batch-mode")
    batch_texts: list[str] = []
    frame = None
    if mode == "Paste lines":
        pasted = st.text_area("One review per line", key="sent-batch-lines", height=140)
        batch_texts = [line.strip() for line in pasted.splitlines() if line.strip()]
    else:
        up = st.file_uploader("CSV with a text column", type=["csv"], key="sent-batch-file", max_upload_size=5)
        column = st.text_input("Text column", value="text", key="sent-batch-col")
        if up is not None and not upload_too_big(up, 5):
            try:
                frame = read_labelled_csv(up, column, None)
            except SeqcoreError as e:
                st.error(f"{e}.")
            else:
                frame = frame[frame["text"].str.strip() != ""]
                batch_texts = frame["text"].tolist()
                if not batch_texts:
                    st.warning(f"{up.name}: every row of the {column!r} column is blank, so there are no reviews "
                               "to predict; fill it or pick another text column.")
    if len(batch_texts) > MAX_BATCH:
        st.warning(f"{len(batch_texts)} rows: predicting the first {MAX_BATCH}.")
        batch_texts = batch_texts[:MAX_BATCH]
    batch_labels = [*options, TFIDF, VADER]
    batch_model = st.selectbox("Model", batch_labels, key="sent-batch-model")
    if batch_texts:
        try:
            out, seconds = predict_with(batch_model, options.get(batch_model, VADER), batch_texts)
        except SeqcoreError as e:
            st.error(str(e))
        else:
            result = pd.DataFrame({"text": [r["text"] for r in out], "label": [r["label"] for r in out],
                                   "p_positive": [r["p_positive"] for r in out]})
            st.caption(f"{len(out)} predictions in {seconds:.2f} s with {batch_model}.")
            st.dataframe(result, hide_index=True, key="sent-batch-table")
            st.download_button("Download CSV", result.to_csv(index=False), mime="text/csv", key="sent-batch-download",
                               file_name=safe_filename(f"sentiment-{batch_model}.csv"), on_click="ignore",
                               icon=":material/download:")

# ----------------------------------------------------------------------------- evaluation
with tab_eval:
    c1, c2, c3 = st.columns(3)
    eval_source = c1.selectbox("Held-out test split", ["imdb", "mr"], key="sent-eval-source",
                               format_func={"imdb": "IMDB reviews", "mr": "Rotten Tomatoes (MR) sentences"}.get)
    eval_model = c2.selectbox("Model", [*options, TFIDF, VADER], key="sent-eval-model")
    eval_n = c3.number_input("Reviews (from the fixed test split)", 50, 2490, 300, step=50, key="sent-eval-n")
    if st.button("Evaluate", key="sent-eval-run", icon=":material/fact_check:"):
        test = cached_splits(eval_source).test.head(int(eval_n))
        texts, y = test["text"].tolist(), test["label"].tolist()
        try:
            with st.spinner("Predicting..."):
                out, seconds = predict_with(eval_model, options.get(eval_model, eval_model), texts)
                vader = S.vader_predict(texts) if eval_model != VADER else out
            with st.spinner("Fitting TF-IDF + logistic regression..." if not tfidf_ready() else "Predicting..."):
                bow = tfidf().predict(texts) if eval_model != TFIDF else out
        except SeqcoreError as e:
            st.error(f"{eval_model}: {e}. Pick another model.")
        else:
            res = S.evaluate([r["p_positive"] for r in out], y, texts)
            majority = S.majority_label(cached_splits(eval_source).train["label"])
            st.session_state["sent-eval"] = {
                "model": eval_model, "source": eval_source, "result": res, "seconds": seconds,
                "vader": S.evaluate([r["p_positive"] for r in vader], y)["accuracy"],
                "tfidf": S.evaluate([r["p_positive"] for r in bow], y)["accuracy"],
                "majority": round(sum(int(v == majority) for v in y) / len(y), 4)}
    ev = st.session_state.get("sent-eval")
    if ev:
        m1, m2, m3, m4 = st.columns(4)
        m1.metric(f"{ev['model']}", f"{ev['result']['accuracy']:.1%}", help=f"{ev['result']['n']} test reviews")
        m2.metric("TF-IDF + LR", f"{ev['tfidf']:.1%}", help="word 1-2 grams, fitted on the same training split")
        m3.metric("VADER", f"{ev['vader']:.1%}")
        m4.metric("Majority class", f"{ev['majority']:.1%}")
        st.plotly_chart(confusion_figure(ev["result"]["confusion"]), key="sent-confusion")
        st.markdown("**Most confident mistakes**")
        mistakes = pd.DataFrame(ev["result"].get("mistakes", []), columns=["text", "label", "p_positive"])
        st.dataframe(mistakes.rename(columns={"label": "true label"}), hide_index=True, key="sent-mistakes")
    cards = [{"model": c.name, "source": c.source, **{k: v for k, v in c.card.get("metrics", {}).items()
                                                      if k.endswith("accuracy")}}
             for c in S.sentiment_checkpoints()]
    if cards:
        st.markdown("**Model cards: accuracy on the full test splits** (from `seqcore train sentiment`)")
        st.dataframe(pd.DataFrame(cards), hide_index=True, key="sent-cards")

# ----------------------------------------------------------------------------- train
with tab_train:
    st.write("Train a small model on a subset of the training split, in the background (this server allows "
             "a few at a time, each for at most 5 minutes). It stays in this session; save it to use it from "
             "the command line. The shipped models took about 15-35 minutes each on one busy CPU core.")
    c1, c2, c3, c4, c5 = st.columns(5)
    t_source = c1.selectbox("Source", ["mr", "imdb", "both"], key="sent-train-source",
                            index=["mr", "imdb", "both"].index(TRAIN_DEFAULTS["source"]))
    t_model = c2.selectbox("Model", ["lstm", "transformer"], key="sent-train-model")
    t_size = c3.selectbox("Size", ["tiny", "small", "medium"], key="sent-train-size",
                          index=["tiny", "small", "medium"].index(TRAIN_DEFAULTS["size"]))
    t_epochs = c4.number_input("Epochs", 1, 5, TRAIN_DEFAULTS["epochs"], key="sent-train-epochs")
    t_rows = c5.number_input("Training reviews", 200, 26000, TRAIN_DEFAULTS["rows"], step=500, key="sent-train-rows")
    job = st.session_state.get("sent-job")
    if st.button("Train", key="sent-train-run", icon=":material/model_training:",
                 disabled=bool(job and job.running)):
        start_training(t_model, t_source, t_size, t_epochs, t_rows)
    show_job("sent-job")
    job = st.session_state.get("sent-job")
    if trained(job) is not None:
        m = job.result.metrics
        scores = ", ".join(f"{src.upper()} {m[f'{src}_test_accuracy']:.1%} (majority class "
                           f"{m[f'{src}_test_majority_accuracy']:.1%})" for src in ("imdb", "mr")
                           if f"{src}_test_accuracy" in m)
        st.success(f"Trained in {job.result.train_seconds:.0f} s ({job.result.stopped}). Held-out accuracy: "
                   f"{scores}. It now appears as '{OWN}' in the pickers.")
        name = st.text_input("Checkpoint name", value=f"sentiment-my-{job.result.model.kind}", key="sent-save-name")
        if st.button("Save to my checkpoints", key="sent-save", icon=":material/save:"):
            try:
                sm = st.session_state["sent-own"]
                path = save_checkpoint(sm.net, {**sm.card, "command": "trained on the Sentiment page"},
                                       user_dir() / name, half=True)
            except SeqcoreError as e:
                st.error(f"{e}.")
            except OSError as e:  # a read-only or full SEQCORE_HOME: the model itself is fine
                st.error(f"Could not save to {user_dir()} ({e.strerror or e}): free some space or set SEQCORE_HOME "
                         f"to a writable folder. Your model is still here for this session.")
            else:
                cached_model.clear()
                st.success(f"Saved {path.name}; use it with `seqcore sentiment predict --model {name} TEXT`.")
