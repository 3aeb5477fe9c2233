"""Sequence Studio: router and home page. Run with `make run` (or `streamlit run app.py`)."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from pages._profile import profiled
from seqcore.device import set_threads

ROOT = Path(__file__).parent

# (file, title, icon, what it does). A page is listed only once its file exists: no placeholders.
PAGES = [
    ("pages/forecast.py", "Stock forecasting", ":material/show_chart:",
     "LSTM and Transformer forecasts of real prices with 80% bands, honest backtests and what-if shocks."),
    ("pages/music.py", "Music generation", ":material/music_note:",
     "Folk tunes written character by character by an LSTM and a Transformer, played in the browser."),
    ("pages/sentiment.py", "Sentiment", ":material/reviews:",
     "Review sentiment from a BiLSTM and a Transformer, read token by token, beside the VADER lexicon."),
    ("pages/captioning.py", "Image captioning", ":material/image:",
     "Show, Attend and Tell on synthetic scenes: a caption word by word and where the model looked."),
    ("pages/translation.py", "Translation", ":material/translate:",
     "Chinese to English with an LSTM + attention and a Transformer: alignment, beam search, next-word choices."),
    ("pages/attention.py", "Attention explorer", ":material/hub:",
     "Step through softmax(QK^T/sqrt(d_k))V inside any Transformer: head, model and neuron views."),
    ("pages/memory_lab.py", "Memory lab", ":material/memory:",
     "RNN vs LSTM vs Transformer on long-range recall, with the gradients of backpropagation through time."),
]


# task -> (metric key, its baseline's key, label) for the home page's table; the cards hold the rest.
HEADLINES = {
    "forecast": ("h20_mase", "h20_naive_mase", "MASE at 20 steps (baseline: random walk)"),
    "music": ("test_bits_per_char", "baseline_5gram_test_bits_per_char", "bits/char (baseline: 5-gram)"),
    "sentiment": ("imdb_test_accuracy", "imdb_test_vader_accuracy", "IMDB accuracy (baseline: VADER)"),
    "caption": ("bleu4", None, "BLEU-4"),
    "translate": ("bleu", "baseline_translation_memory_bleu", "BLEU, beam 4 (baseline: translation memory)"),
    "attention": ("test_bits_per_char", "baseline_bigram_bits_per_char", "bits/char (baseline: bigram)"),
    "memory": ("accuracy", "chance", "recall accuracy (baseline: chance)"),
}


def headline(task: str, metrics: dict) -> dict:
    key, base, label = HEADLINES.get(task, (None, None, ""))
    value, baseline = (v if isinstance(v, (int, float)) else None for v in (metrics.get(key), metrics.get(base)))
    return {"held-out metric": label if value is not None else "",
            "value": None if value is None else round(value, 3),
            "baseline": None if baseline is None else round(baseline, 3)}


def loaded_models() -> list[dict] | None:
    """One row per model held in the pages' st.cache_resource caches, with a SHA-256 of its weights; None when
    this Streamlit version keeps its caches elsewhere.

    Shared models must stay read-only: a hash that changes while the server runs means some session modified
    one. bench/load.py reads this table before and after its concurrent sessions.
    """
    from seqcore.checkpoints import find_modules, weights_sha256

    # Streamlit has no public API listing cached values; these are 1.67's internals, read-only, under their locks.
    try:
        from streamlit.runtime.caching.cache_resource_api import _resource_caches as caches

        with caches._caches_lock:
            function_caches = [c for by_key in caches._function_caches.values() for c in by_key.values()]
        entries = []
        for cache in function_caches:
            with cache._mem_cache_lock:
                entries += [(cache.display_name, r.value) for r in list(cache._mem_cache.values())]
    except (ImportError, AttributeError):
        return None
    rows: dict[int, dict] = {}
    for func, value in entries:
        for path, module, name in find_modules(value, func.rsplit(".", 1)[-1] + "()"):
            row = rows.get(id(module))
            if row is None:
                state = module.state_dict()
                rows[id(module)] = {
                    "checkpoint": name or "", "model": type(module).__name__, "held by": path, "entries": 1,
                    "parameters": sum(t.numel() for t in state.values()),
                    "dtype": str(next(iter(state.values())).dtype).removeprefix("torch.") if state else "",
                    "SHA-256 of the weights": weights_sha256(state), "object": f"{id(module):x}"}
            else:
                row["entries"] += 1
    return sorted(rows.values(), key=lambda r: (r["held by"], r["checkpoint"], r["object"]))


def available_pages() -> list[tuple[str, str, str, str]]:
    return [p for p in PAGES if (ROOT / p[0]).exists()]


def home() -> None:
    from seqcore.checkpoints import list_checkpoints
    from seqcore.cli import versions
    from seqcore.device import device_name

    st.title("Sequence Studio")
    st.write(
        "Train, run and look inside deep sequence models (vanilla RNN, LSTM, Transformer, attention) "
        "on real data, following MIT 6.S191's *Deep Sequence Modeling* lecture."
    )
    st.markdown(f"**Device:** {device_name()}", help="CUDA, else Apple MPS, else CPU; SEQCORE_DEVICE forces one")
    if replica := os.environ.get("SEQCORE_REPLICA"):
        st.caption(f"Served by replica {replica}", help="`make serve` runs several replicas behind nginx")
    pages = available_pages()
    if pages:
        st.subheader("Pages")
        for path, title, icon, blurb in pages:
            st.page_link(path, label=f"**{title}**: {blurb}", icon=icon)
    st.subheader("Default models")
    ckpts = list_checkpoints()
    if ckpts:
        st.dataframe(
            [{"name": c.name, "task": c.task, "model": c.arch, "source": c.source,
              **headline(c.task, c.card.get("metrics") or {})} for c in ckpts],
            hide_index=True,
        )
        st.caption("Held-out figures from each model card; `checkpoints/*.json` says how each was made.")
    else:
        st.info("No trained models yet. The pages train one on demand; `make models` rebuilds the shipped set.")
    with st.expander("Loaded models"), st.container(key="home-loaded-models"):
        rows = loaded_models()
        if rows is None:
            st.info("This Streamlit version does not expose its resource caches; nothing to list.")
        elif not rows:
            st.write("No page has loaded a model in this server yet.")
        else:
            st.caption("Models this server holds once and shares read-only with every session (`st.cache_resource`). "
                       "The SHA-256 covers every tensor of the state_dict in key order; it stays the same for as "
                       "long as the server runs unless something modified a shared model.")
            st.table(rows, hide_index=True)
    with st.expander("Versions"):
        st.json(versions())


# Pages opened by URL never reach pick_device(); apply SEQCORE_THREADS before any page runs torch.
set_threads()
# A local file: a ":material/...:" page icon makes Streamlit point the favicon at fonts.gstatic.com, which an
# offline classroom cannot reach.
st.set_page_config(page_title="Sequence Studio", page_icon=str(ROOT / "assets" / "icon.png"), layout="wide")
nav = st.navigation(
    [st.Page(home, title="Home", icon=":material/home:", default=True)]
    + [st.Page(path, title=title, icon=icon) for path, title, icon, _ in available_pages()]
)
with profiled(nav.url_path):  # no-op unless SEQCORE_PROFILE_DIR is set (see pages/_profile.py)
    nav.run()
