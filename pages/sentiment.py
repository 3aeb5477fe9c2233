"""Sentiment: a BiLSTM and a Transformer read a review token by token, beside VADER and TF-IDF + LR baselines."""

from __future__ import annotations

import contextlib
import time

import pandas as pd
import streamlit as st

from pages import _sentiment_figures as fig
from pages import _shared as kit
from seqcore.checkpoints import file_version, list_checkpoints, shipped_dir
from seqcore.errors import CheckpointError, SeqcoreError
from seqcore.tasks import sentiment as S

VADER = "VADER lexicon"
TFIDF = "TF-IDF + logistic regression"
OWN = "Your model (this session)"
JOB = "sentiment-job"
MAX_BATCH = 2000


@st.cache_resource(max_entries=8, show_spinner="Loading the model...")
def cached_model(source: str, name: str, version: tuple) -> S.SentimentModel:
    """A registry checkpoint, shared by every session: read-only, eval mode, used under inference_mode. `version`
    (checkpoints.file_version) is in the key, so a rewritten checkpoint is read again."""
    info = next((c for c in list_checkpoints(S.TASK) if (c.source, c.name) == (source, name)), None)
    if info is None:
        raise CheckpointError(f"the checkpoint registry cannot read {name}")
    return S.load(info)[0]


@st.cache_resource(show_spinner="Fitting TF-IDF + logistic regression on the training reviews (once per server, "
                                "about 20 s)...")
def cached_tfidf() -> S.TfidfBaseline:
    """The bag-of-words baseline, fitted on the sequence models' training split; read-only, shared."""
    return S.fit_tfidf(S.review_splits("both"))


def tfidf() -> S.TfidfBaseline:
    """Fit (or fetch) the baseline and remember that this session has it: it is fitted only on request."""
    st.session_state["sentiment-tfidf-ready"] = True
    return cached_tfidf()


def model_options() -> dict:
    """Label -> registry entry (or OWN), the best held-out IMDB card first: the page's default model."""
    found = list_checkpoints(S.TASK)
    best = S.best_name() if found else None
    opts: dict = {}
    for c in sorted(found, key=lambda c: c.name != best):
        opts.setdefault(f"{c.name} ({'BiLSTM' if 'lstm' in c.arch else 'Transformer'}, {c.source})", c)
    if st.session_state.get("sentiment-own") is not None:
        opts[OWN] = OWN
    return opts


def model_of(choice) -> S.SentimentModel:
    if choice == OWN:
        return st.session_state["sentiment-own"]
    return cached_model(choice.source, choice.name, file_version(choice.stem))


def predict_with(choice, texts: list[str]) -> tuple[list[dict], float]:
    """Predictions of VADER, the TF-IDF baseline or a model, and the seconds they took (not counting loading)."""
    model = S.VADER if choice == VADER else tfidf() if choice == TFIDF else model_of(choice)
    start = time.perf_counter()
    rows = model.predict(texts)
    return rows, time.perf_counter() - start


def start_training(cfg):
    """The page's training job (None when the server is full); its model becomes OWN for this session."""
    return kit.start_job(JOB, lambda report, stop: S.train(cfg, on_progress=report, stop=stop), name="sentiment")


st.title("Sentiment")
links = kit.PageLinks("sentiment")  # a link carries the review (pages/_shared.PageLinks)
st.caption("Sequence in, one label out: two neural classifiers trained from scratch on real IMDB and Rotten "
           "Tomatoes reviews, beside the VADER lexicon and a TF-IDF + logistic regression bag of words. The first "
           "model listed is the default: the best on held-out IMDB reviews, read from the model cards.")
fig.lecture()

if (result := kit.adopt(JOB)) is not None:  # each finished job's model, once, before the pickers are drawn
    st.session_state["sentiment-own"] = result[0]
options = model_options()
shipped = {c.name: c for c in options.values() if c != OWN and c.source == "shipped"}
broken = set()  # shipped checkpoints that cannot load: said once here, with a Retrain button
for _name in [*shipped, *(n for n in kit.unreadable_shipped(S.default_name(k) for k in S.KINDS) if n not in shipped)]:
    _kind = "lstm" if "lstm" in (shipped[_name].arch if _name in shipped else _name) else "transformer"
    if kit.load_or_banner(lambda n: cached_model("shipped", n, file_version(shipped_dir() / n)), _name,
                          key=f"sentiment-retrain-{_name}", retrain=lambda k=_kind: start_training(S.page_config(k)),
                          busy_now=kit.busy(JOB), what="The shipped checkpoint", where="under Train your own") is None:
        broken.add(_name)
# a checkpoint that cannot load goes last, so the pickers' default is the best model that works
usable = {label: c for label, c in options.items() if c == OWN or c.source != "shipped" or c.name not in broken}
options = {**usable, **options}
if not options:
    st.error("No sentiment model is available yet: train one below under **Train your own**, or run "
             "`seqcore train sentiment --model lstm`. VADER works meanwhile.")

tab_predict, tab_batch, tab_eval, tab_train = st.tabs(["Predict", "Batch", "Held-out evaluation", "Train your own"])

with tab_predict:
    example = st.selectbox("Example", list(S.EXAMPLES), key="sentiment-example")
    box = f"sentiment-text-{list(S.EXAMPLES).index(example)}"  # a fresh box per example
    links.restore([kit.text("text", box, S.EXAMPLES[example])])
    text = st.text_area("Review", height=120, key=box,
                        help="Any text; the BiLSTM reads its first 256 tokens, the Transformer 512")
    links.publish()
    if not text.strip():
        st.error("The review is empty: type a few words (or pick an example).")
    else:
        rows = []
        with st.container(key="sentiment-result"):
            tfidf_row = [(TFIDF, TFIDF)] if st.session_state.get("sentiment-tfidf-ready") else []
            for label, choice in [*usable.items(), *tfidf_row, (VADER, VADER)]:
                try:
                    out, seconds = predict_with(choice, [text])
                except SeqcoreError as e:
                    st.error(f"{label}: {e}")
                    continue
                rows.append({"model": label, "label": out[0]["label"], "P(positive)": out[0]["p_positive"],
                             "latency (ms)": round(seconds * 1000, 1)})
            st.dataframe(pd.DataFrame(rows), hide_index=True, key="sentiment-table",
                         column_config={"P(positive)": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                                                        format="%.3f")})
        models = []  # the models that loaded (one that cannot has said so in the table above), default first
        for choice in usable.values():
            with contextlib.suppress(SeqcoreError):
                models.append(model_of(choice))
        fig.draw_text_notes(models, text)
        if options:
            st.subheader("How the model reads")
            read_label = st.selectbox("Model", list(options), key="sentiment-read-model")
            try:
                sm = model_of(options[read_label])
                tokens, p = sm.running_probability(text)
                ex = sm.explain(text)
            except SeqcoreError as e:
                st.error(str(e))
            else:
                fig.draw_reading(tokens, p, ex)

    st.subheader("The bag-of-words baseline")
    if not st.session_state.get("sentiment-tfidf-ready"):
        st.write("TF-IDF + logistic regression scores a review by the words and word pairs it contains, each with "
                 "one learned weight. It is fitted on request (about 20 s, once per server).")
        st.button("Fit TF-IDF + logistic regression", key="sentiment-tfidf-fit", icon=":material/functions:",
                  on_click=tfidf)
    else:
        fig.draw_tfidf(tfidf(), text)

with tab_batch:
    mode = st.radio("Input", ["Paste lines", "Upload CSV"], horizontal=True, key="sentiment-batch-mode")
    batch_texts: list[str] = []
    if mode == "Paste lines":
        pasted = st.text_area("One review per line", key="sentiment-batch-lines", height=140)
        batch_texts = [line.strip() for line in pasted.splitlines() if line.strip()]
        if not batch_texts:  # an empty or blank box: say what it is for rather than show nothing
            st.info("Paste reviews here, one per line, to predict them all at once.")
    else:
        up = st.file_uploader("CSV with a text column", type=["csv"], key="sentiment-batch-file", max_upload_size=5)
        column = st.text_input("Text column", value="text", key="sentiment-batch-col")
        if up is not None and not kit.upload_too_big(up, 5):
            try:
                batch_texts = S.texts_from_csv(up, column)
            except SeqcoreError as e:
                st.error(kit.inert(f"{up.name}: {e}") + ".")  # the file's name and the column are the user's
    if len(batch_texts) > MAX_BATCH:
        st.warning(f"{len(batch_texts)} rows: predicting the first {MAX_BATCH}.")
        batch_texts = batch_texts[:MAX_BATCH]
    batch_model = st.selectbox("Model", [*options, TFIDF, VADER], key="sentiment-batch-model")
    if batch_texts:
        try:
            out, seconds = predict_with(options.get(batch_model, batch_model), batch_texts)
        except SeqcoreError as e:
            st.error(str(e))
        else:
            result = pd.DataFrame(out)[["text", "label", "p_positive"]]
            st.caption(f"{len(out)} predictions in {seconds:.2f} s with {batch_model}.")
            st.dataframe(result, hide_index=True, key="sentiment-batch-table")
            st.download_button("Download CSV", result.to_csv(index=False), mime="text/csv", on_click="ignore",
                               key="sentiment-batch-download", icon=":material/download:",
                               file_name=kit.safe_filename(f"sentiment-{batch_model}.csv"))

with tab_eval:
    c1, c2, c3 = st.columns(3)
    eval_source = c1.selectbox("Held-out test split", ["imdb", "mr"], key="sentiment-eval-source",
                               format_func={"imdb": "IMDB reviews", "mr": "Rotten Tomatoes (MR) sentences"}.get)
    eval_model = c2.selectbox("Model", [*options, TFIDF, VADER], key="sentiment-eval-model")
    eval_n = c3.number_input("Reviews (from the fixed test split)", 50, 2490, 300, step=50, key="sentiment-eval-n")
    if st.button("Evaluate", key="sentiment-eval-run", icon=":material/fact_check:"):
        data = S.review_splits(eval_source)
        texts, y = data.test["text"].head(int(eval_n)).tolist(), data.test["label"].head(int(eval_n)).tolist()
        try:
            with st.spinner("Predicting..."):
                out, seconds = predict_with(options.get(eval_model, eval_model), texts)
                base = S.evaluate(tfidf(), limit=int(eval_n), data=data, vader=True,
                                  majority=S.majority_label(data.train["label"]))
        except SeqcoreError as e:
            st.error(f"{eval_model}: {e}. Pick another model.")
        else:
            st.session_state["sentiment-eval"] = {
                "model": eval_model, "result": S.score([r["p_positive"] for r in out], y, texts),
                **{name: base[f"{eval_source}_test_{key}accuracy"]
                   for name, key in (("tfidf", ""), ("vader", "vader_"), ("majority", "majority_"))}}
    if ev := st.session_state.get("sentiment-eval"):
        fig.draw_evaluation(ev)
    if cards := [{**c.card, "source": c.source} for c in list_checkpoints(S.TASK)]:
        st.markdown("**Model cards: accuracy on the full test splits** (from `seqcore train sentiment`)")
        kit.card_table(cards, {"model": "name", "source": "source", **{
            f"{src.upper()} {what}": f"metrics.{src}_test_{key}accuracy" for src in ("imdb", "mr")
            for what, key in (("accuracy", ""), ("VADER", "vader_"), ("majority", "majority_"))}},
            key="sentiment-cards")

with tab_train:
    st.write("Train a small model on a subset of the training split, in the background (this server allows "
             "a few at a time, each for at most 5 minutes). It stays in this session; keep it to use it from "
             "the command line and after a restart. The shipped models took about 15-35 minutes each on one busy "
             "CPU core.")
    d = S.page_config()
    c1, c2, c3, c4, c5 = st.columns(5)
    t_source = c1.selectbox("Source", S.SOURCES, index=S.SOURCES.index(d.source), key="sentiment-train-source")
    t_model = c2.selectbox("Model", S.KINDS, key="sentiment-train-model")
    t_size = c3.selectbox("Size", list(S.SIZES), index=list(S.SIZES).index(d.size), key="sentiment-train-size")
    t_epochs = c4.number_input("Epochs", 1, 5, d.epochs, key="sentiment-train-epochs")
    t_rows = c5.number_input("Training reviews", 200, 26000, d.max_train, step=500, key="sentiment-train-rows")
    if st.button("Train", key="sentiment-train-run", icon=":material/model_training:", disabled=kit.busy(JOB)):
        start_training(S.page_config(t_model, source=t_source, size=t_size, epochs=int(t_epochs),
                                     max_train=int(t_rows)))
    kit.show_job(JOB)
    if (done := kit.trained(st.session_state.get(JOB))) is not None:
        own, card = done
        m = card["metrics"]
        scores = ", ".join(f"{src.upper()} {m[f'{src}_test_accuracy']:.1%} (majority class "
                           f"{m[f'{src}_test_majority_accuracy']:.1%})" for src in ("imdb", "mr")
                           if f"{src}_test_accuracy" in m)
        st.success(f"Trained in {card['train_seconds']:.0f} s ({card['stopped']}). Held-out accuracy: {scores}. "
                   f"It now appears as '{OWN}' in the pickers.")
        kit.keep_model("sentiment-save", S.save, own, {**card, "command": "trained on the Sentiment page"},
                       f"sentiment-my-{own.kind}", use="Use it with `seqcore sentiment predict --model {name} TEXT`")
