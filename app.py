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
    "memory": ("mean_accuracy", "chance", "mean accuracy over its distances (baseline: chance)"),
}
# task -> other held-out figures, in order, for cards without the headline (models trained on a page)
FALLBACKS = {
    "music": [("val_bits_per_char", None, "validation bits/char")],
    "forecast": [(f"h{h}_mase", f"h{h}_naive_mase", f"MASE at {h} steps (baseline: random walk)") for h in (5, 1)],
}


def headline(task: str, metrics: dict) -> dict:
    key, base, label = HEADLINES.get(task, (None, None, ""))
    if key not in metrics and task in FALLBACKS:  # a model trained on a page: the held-out figure it has
        key, base, label = next((f for f in FALLBACKS[task] if f[0] in metrics), (key, base, label))
    value, baseline = (v if isinstance(v, (int, float)) else None for v in (metrics.get(key), metrics.get(base)))
    return {"held-out metric": label if value is not None else "",
            "value": None if value is None else round(value, 3),
            "baseline": None if baseline is None else round(baseline, 3)}


def kept_models() -> None:
    """The user registry: models kept on the pages (or made by `seqcore train`), each with Delete, and the quota."""
    from seqcore.checkpoints import checkpoint_bytes, size_text, usage, user_dir, user_models
    from seqcore.errors import SeqcoreError

    st.subheader("Kept models")
    if said := st.session_state.pop("home-deleted", None):
        (st.error if said.startswith("Could not") else st.success)(said)
    try:
        use, models = usage(), user_models()
    except SeqcoreError as e:  # e.g. SEQCORE_MAX_USER_MB set to something that is not a number
        st.error(str(e))
        return
    st.caption(f"Models trained on the pages and kept there (*Keep this model*), or made by `seqcore train`, in "
               f"`{user_dir()}`: shared by everyone on this server and kept after a restart. {use['models']} of "
               f"{use['max_models']} models, {use['mb']:.1f} of {use['max_mb']:g} MB; at the quota, keeping another "
               "removes the oldest (listed first) after a warning. `seqcore checkpoints delete NAME` deletes one too.")
    if not models:
        st.info("No kept models yet: train one on a page and press *Keep this model*.")
        return
    with st.container(key="home-kept"):
        widths = [3, 1.2, 1.6, 0.8, 3.4, 1]
        for col, title in zip(st.columns(widths), ["name", "task", "created", "size", "held-out", ""], strict=True):
            col.markdown(f"**{title}**")
        for m in models:
            h = headline(m.task, m.card.get("metrics") or {})
            base = f" (baseline {h['baseline']})" if h["baseline"] is not None else ""
            figure = f"{h['held-out metric'].split(' (')[0]}: {h['value']}{base}"
            c = st.columns(widths, vertical_alignment="center")
            c[0].markdown(f"`{m.name}` ({m.arch})")
            c[1].write(m.task)
            c[2].write(str(m.card.get("created", ""))[:16].replace("T", " "))
            c[3].write(size_text(checkpoint_bytes(m.stem)))
            c[4].write(figure if h["value"] is not None else "")
            c[5].button("Delete", key=f"home-delete-{m.name}", icon=":material/delete:", on_click=delete,
                        args=(m.name,), help=f"Delete {m.name} from this server (weights and model card)")


def delete(name: str) -> None:
    from seqcore.checkpoints import delete_checkpoint
    from seqcore.errors import SeqcoreError

    try:
        delete_checkpoint(name)
        st.session_state["home-deleted"] = f"Deleted {name}."
    except (SeqcoreError, OSError) as e:
        st.session_state["home-deleted"] = f"Could not delete {name}: {e}"


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
    ckpts = [c for c in list_checkpoints() if c.source == "shipped"]
    if ckpts:
        st.dataframe(
            [{"name": c.name, "task": c.task, "model": c.arch, **headline(c.task, c.card.get("metrics") or {})}
             for c in ckpts],
            hide_index=True,
        )
        st.caption("Held-out figures from each model card; `checkpoints/*.json` says how each was made.")
    else:
        st.info("No trained models yet. The pages train one on demand; `make models` rebuilds the shipped set.")
    kept_models()
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
