"""Image captioning: Show, Attend and Tell on synthetic scenes, with the attention for every word."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from pages import _caption_figures as fig
from pages import _shared as kit
from pages._shared import adopt, busy, card_table, load_or_banner, show_job, start_job, unreadable_shipped
from seqcore.checkpoints import file_version, find_checkpoint, keep, list_checkpoints
from seqcore.data import scenes
from seqcore.errors import CheckpointError, InputError, SeqcoreError
from seqcore.tasks import captioning as C

JOB = "captioning-job"
MINE = "captioning-mine"  # (decoder, dataset) -> the checkpoint this session trained for it
DECODER_TITLES = {"lstm": "LSTM + soft attention", "transformer": "Transformer decoder"}
SOURCES = {"Random held-out scene": "random", "Build a scene": "build", "Upload an image": "upload"}  # -> in links

st.title("Image captioning")
links = kit.PageLinks("captioning", [kit.choice("dataset", "captioning-dataset", C.DATASETS),
                                     kit.number("beam", "captioning-beam", 1, 5, 1)])
st.write("A CNN turns the image into an 8x8 grid of feature vectors; a decoder writes the caption word by word "
         "and, for every word, looks at the grid. The maps below show where it looked.")

fig.lecture()


@st.cache_resource(max_entries=16)
def load_model(name: str, version: tuple):
    """Read-only after load: used under torch.inference_mode() by seqcore.tasks.captioning. `version` (the
    checkpoint files' checkpoints.file_version) is part of the cache key, so a retrained checkpoint is read again."""
    return C.load(name)


def load(name: str):
    return load_model(name, file_version(find_checkpoint(name, C.TASK).stem))


def start_training(cfg: C.Config):
    """The page's training job: train (the task scores the model on held-out scenes), save to the user registry."""

    def run(on_progress, stop):
        model, card = C.train(cfg, on_progress=on_progress, stop=stop)
        if not card["training"]["steps"]:  # stopped before the first step: random weights are not worth saving
            return None
        name = f"{C.default_name(cfg.decoder, cfg.dataset, cfg.split)}-mine-{time.strftime('%H%M%S')}"
        removed = keep(C.save, model, {**card, "command": "trained on the captioning page"}, name)[1]  # the quota
        return {"name": name, "config": cfg, "metrics": card["metrics"], "stopped": card["training"]["stopped"],
                "removed": [m.name for m in removed]}

    return start_job(JOB, run, name="caption")


# A finished run is adopted before anything is captioned, so the captions below use it at once.
if (trained := adopt(JOB)) is not None and trained["config"].split == "iid":
    st.session_state.setdefault(MINE, {})[(trained["config"].decoder, trained["config"].dataset)] = trained["name"]

# ---------------------------------------------------------------- the scene

left, right = st.columns([1, 2])
with left:
    dataset = st.radio("Dataset", C.DATASETS, horizontal=True, key="captioning-dataset",
                       format_func={"shapes": "Shape scenes", "digits": "Handwritten digits"}.get)
    sources = [s for s in SOURCES if dataset == "shapes" or s != "Build a scene"]
    links.restore([kit.choice("image", "captioning-source", sources, label=SOURCES.get),
                   kit.number("scene", "captioning-index", 0, 1_000_000, 0)])  # which held-out scene
    source = st.radio("Image", sources, key="captioning-source")
    image, truth, notes = None, None, []
    if source == "Random held-out scene":
        if st.button("New scene", key="captioning-new", icon=":material/casino:"):
            st.session_state["captioning-index"] += 1
        idx = st.session_state["captioning-index"]
        st.caption(f"Held-out scene {idx}: New scene draws the next one.")
        scene = C.make_scene(dataset, scenes.scene_rng(C.TEST_SEED + 1, idx, "test"), "test")
        image, truth = scene.image, scene.caption
    elif source == "Build a scene":
        objs = []
        for k in (1, 2):
            if k == 2 and not st.checkbox("Second object", value=True, key="captioning-two"):
                break
            c1, c2, c3 = st.columns(3)
            objs.append((c1.selectbox(f"Shape {k}", scenes.SHAPES, index=k - 1, key=f"captioning-shape{k}"),
                         c2.selectbox(f"Colour {k}", list(scenes.COLOURS), index=2 * (k - 1),
                                      key=f"captioning-colour{k}"),
                         c3.selectbox(f"Size {k}", list(scenes.SIZES), index=k - 1, key=f"captioning-size{k}")))
        relation = st.selectbox("Object 1 is ... object 2", scenes.RELATIONS, key="captioning-relation") \
            if len(objs) == 2 else None
        jitter = st.number_input("Layout seed", 0, 10_000, 0, key="captioning-seed", help="another random placement")
        scene = scenes.render_scene(objs, relation, rng=np.random.default_rng(int(jitter)))
        image, truth = scene.image, scene.caption
    else:
        upload = st.file_uploader("An image (PNG, JPEG, GIF, BMP, WebP; up to 10 MB)", key="captioning-upload",
                                  type=None, max_upload_size=10)
        if upload is not None:
            try:
                image, notes = C.preprocess_upload(upload.getvalue(), upload.name)
            except SeqcoreError as e:
                st.error(kit.inert(str(e)))  # it names the file as the user's browser sent it
        st.warning("The models only know these synthetic scenes: a photo gets a guess in their small "
                   "vocabulary, shown anyway.")
    for note in notes:
        st.info(note)
    beam = st.slider("Beam width (1 = greedy)", 1, 5, key="captioning-beam")
    links.publish()
    if image is not None:
        st.image(image, caption=f"reference: {truth}" if truth else "your image (64x64)", width="stretch")


def model_for(decoder: str, dataset: str):
    """(model, card): this session's own trained model if it has one, else the shipped default; None after
    saying why not (no model yet, or the broken-checkpoint banner with Retrain)."""
    mine = st.session_state.get(MINE, {}).get((decoder, dataset))
    names = {c.name for c in list_checkpoints(C.TASK)}
    name = mine if mine in names else C.default_name(decoder, dataset)
    if name not in names and not unreadable_shipped([name]):
        st.info(f"No {decoder} captioner for {dataset} yet: train one below (`make models` rebuilds the defaults).")
        return None
    return load_or_banner(load, name, key=f"captioning-retrain-{decoder}", busy_now=busy(JOB),
                          what=f"The {decoder} captioner", where="under Train your own",
                          retrain=lambda: start_training(C.page_config(decoder, dataset)))


def caption_for(decoder: str, img: np.ndarray):
    """(model, card, Caption) from this session's or the shipped captioner; None after showing why not."""
    if (loaded := model_for(decoder, dataset)) is None:
        return None
    model, card = loaded
    metrics = card.get("metrics", {})
    if metrics.get("bleu4") is not None and metrics["bleu4"] < metrics.get("baseline_nn_bleu4", 0) + 10:
        st.warning(f"{card['name']} does not clearly beat the nearest-neighbour baseline on held-out scenes "
                   f"(BLEU-4 {metrics['bleu4']:.1f} vs {metrics.get('baseline_nn_bleu4', 0):.1f}): read its "
                   "caption as noise. Train a longer run below.")
    cap = C.caption_images(model, img, beam=beam)[0]
    st.markdown(f"### “{cap.text or '(empty)'}”")
    st.caption(f"model {card['name']} · {'greedy' if beam == 1 else f'beam {beam}'} · log-prob {cap.score:.2f}")
    return model, card, cap


def show_attention(decoder: str, img: np.ndarray, model, cap) -> None:
    """The word slider's overlay and the small multiples for one decoder's caption."""
    if not cap.words:
        st.info("An empty caption has no attention to show.")
        return
    layer = head = None
    if decoder == "transformer":
        n_layers, n_heads = cap.attention.shape[1:3]
        options = ["mean of all heads"] + [f"layer {l + 1}, head {h + 1}" for l in range(n_layers)
                                           for h in range(n_heads)]
        pick = options.index(st.selectbox("Cross-attention", options, key="captioning-head"))
        if pick:
            layer, head = divmod(pick - 1, n_heads)
    maps = cap.word_maps(model.grid, layer, head)
    word = st.select_slider("Word", options=list(range(len(cap.words))), format_func=lambda i: cap.words[i],
                            key=f"captioning-word-{decoder}")
    fig.word_overlay(img, maps[word], cap.words[word], key=f"captioning-overlay-{decoder}")
    fig.small_multiples(img, maps, cap.words)


if image is not None:
    with right:
        # Both captions are cheap (a few ms); the attention maps are what the browser has to draw, so only the
        # open tab runs (on_change="rerun").
        results = {}
        for col, decoder in zip(st.columns(2), C.DECODERS, strict=True):
            with col:
                st.subheader(DECODER_TITLES[decoder])
                results[decoder] = caption_for(decoder, image)
        tabs = st.tabs([f"Where the {DECODER_TITLES[d].split()[0]} looked" for d in C.DECODERS],
                       key="captioning-view", on_change="rerun")
        for tab, decoder in zip(tabs, C.DECODERS, strict=True):
            if tab.open and results[decoder] is not None:
                with tab:
                    model, _, cap = results[decoder]
                    show_attention(decoder, image, model, cap)

# ---------------------------------------------------------------- held-out scores

st.header("Held-out scores")
scored = {c.name: c for c in list_checkpoints(C.TASK) if c.card.get("metrics")}
if scored:
    card_table([{**c.card, "name": c.name, "source": c.source} for c in scored.values()],
               {"model": "name", "source": "source", "dataset": "data.dataset", "split": "data.split",
                "BLEU-4": "metrics.bleu4", "exact": "metrics.exact", "localisation": "metrics.attention_localisation",
                "chance loc.": "metrics.chance_localisation", "nearest-neighbour BLEU-4": "metrics.baseline_nn_bleu4",
                "in-distribution BLEU-4": "metrics.iid.bleu4", "n": "metrics.n", "train s": "train_seconds"},
               key="captioning-scores")
    st.caption("From each model card, written by `seqcore train caption` on fresh held-out scenes. "
               "Rows with split = compositional were trained without red triangles, green circles and blue "
               "squares and scored on scenes that contain one: BLEU stays respectable while the one word that "
               "matters is wrong.")
c1, c2, c3 = st.columns(3)
eval_model = c1.selectbox("Model", list(scored) or ["(none)"], key="captioning-eval-model")
eval_split = c2.selectbox("Scenes", ["iid", "compositional"], key="captioning-eval-split",
                          format_func={"iid": "in distribution", "compositional": "held-out colour-shape pairs"}.get)
eval_n = c3.number_input("Scenes to score", 20, 1000, 200, step=20, key="captioning-eval-n")
if st.button("Score on fresh held-out scenes", key="captioning-eval", disabled=not scored):
    try:
        model, _ = load(eval_model)
        with st.spinner(f"Captioning {eval_n} new scenes..."):
            result = C.evaluate(model, scored[eval_model].card.get("data", {}).get("dataset", "shapes"),
                                limit=int(eval_n), seed=int(time.time()) % 100_000, split=eval_split)
        st.session_state["captioning-eval-result"] = (eval_model, result)
    except CheckpointError as e:
        st.error(f"{e}. Pick another model.")
    except InputError as e:
        st.error(str(e))
if "captioning-eval-result" in st.session_state:
    fig.scores(*st.session_state["captioning-eval-result"])

# ---------------------------------------------------------------- train your own

st.header("Train your own")
t1, t2, t3, t4 = st.columns(4)
tr_decoder = t1.selectbox("Decoder", C.DECODERS, key="captioning-train-decoder", format_func=DECODER_TITLES.get)
tr_dataset = t2.selectbox("Dataset", C.DATASETS, key="captioning-train-dataset")
tr_split = t3.selectbox("Split", ["iid", "compositional"], key="captioning-train-split",
                        help="compositional: red triangles, green circles and blue squares never appear in training")
default = C.page_config(tr_decoder, tr_dataset, tr_split)
tr_n = t4.select_slider("Training scenes", [500, 1000, 2000, 4000, 6000], value=default.n_train,
                        key="captioning-train-n")
tr_epochs = st.slider(f"Epochs (training stops after {default.time_budget_s / 60:.0f} minutes whatever this says)",
                      1, 20, default.epochs, key="captioning-train-epochs")
kit.quota_warning(doing="Saving the model a run trains")  # runs are saved to the kept models (home page)
if st.button("Train", key="captioning-train", icon=":material/model_training:", disabled=busy(JOB)):
    cfg = C.page_config(tr_decoder, tr_dataset, tr_split, n_train=int(tr_n), epochs=int(tr_epochs))
    try:
        cfg.check()
    except InputError as e:
        st.error(str(e))
    else:
        start_training(cfg)
show_job(JOB)
if trained is not None:
    m = trained["metrics"]
    st.success(f"Saved {trained['name']} ({trained['stopped']}): BLEU-4 {m['bleu4']:.1f} (nearest-neighbour "
               f"{m['baseline_nn_bleu4']:.1f}), exact {m['exact']:.0%}, localisation {m['attention_localisation']:.0%} "
               f"on {m['n']} held-out scenes. " + ("The captions above now use it." if trained["config"].split == "iid"
                                                  else "Compare it with the shipped models in the score table."))
    kit.removed_note(trained["removed"])
