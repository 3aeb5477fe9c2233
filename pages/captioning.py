"""Image captioning: Show, Attend and Tell on synthetic scenes, with the attention for every word."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from pages._shared import checkpoint_problem, how_it_works, show_job, start_job, unreadable_shipped
from seqcore.checkpoints import list_checkpoints
from seqcore.data import scenes
from seqcore.errors import CheckpointError, SeqcoreError
from seqcore.tasks import captioning as C

JOB = "cap-job"
TRAIN_DEFAULTS = dict(n_train=2000, epochs=4)  # the Train panel's; "Retrain" after a broken checkpoint uses them
DECODER_TITLES = {"lstm": "LSTM + soft attention", "transformer": "Transformer decoder"}

st.title("Image captioning")
st.write("A CNN turns the image into an 8x8 grid of feature vectors; a decoder writes the caption word by word "
         "and, for every word, looks at the grid. The maps below show where it looked.")

how_it_works(
    [r"e_{t,i} = w^\top \tanh(W_a a_i + W_h h_{t-1}),\quad \alpha_t = \mathrm{softmax}(e_t),\quad "
     r"z_t = \beta_t \textstyle\sum_i \alpha_{t,i} a_i",
     r"h_t, c_t = \mathrm{LSTM}([E y_{t-1}; z_t],\ (h_{t-1}, c_{t-1})),\quad p(y_t) = \mathrm{softmax}(W_o [h_t; z_t])",
     r"\mathcal{L} = -\textstyle\sum_t \log p(y_t) + \lambda \frac{1}{N}\sum_i \big(1 - \sum_t \alpha_{t,i}\big)^2",
     r"\mathrm{CrossAttn}(Q{=}\text{words}, K{=}V{=}\text{grid}) = \mathrm{softmax}\!\big(QK^\top/\sqrt{d_k}\big)V"],
    "**Problem shape: one-to-many.** One image in, a sequence of words out. The LSTM decoder is *Show, Attend "
    "and Tell*'s: soft additive attention over the N = 64 grid cells at every step, with the doubly stochastic "
    "penalty that keeps it from staring at one cell for the whole caption. The Transformer decoder uses causal "
    "self-attention over the words so far and cross-attention to the grid (one map per layer and head). "
    "Scores are on freshly generated held-out scenes: **BLEU-4** (sacrebleu), **exact match**, and **attention "
    "localisation**, the share of object words (size, colour, shape, digit) whose attention peak cell overlaps "
    "that object's box, read while the model follows the reference caption. **Baselines:** the caption of the "
    "nearest training image in pixel space, and the hit rate of a random peak cell.",
    limits="a model trained on synthetic scenes does not caption photos, and an attention map shows where the "
           "model looked, not why it chose a word.",
)


@st.cache_resource(max_entries=16)
def load_model(name: str, mtime: float):
    """Read-only after load: used under torch.inference_mode() by seqcore.tasks.captioning. `mtime` (the
    weights file's) is part of the cache key, so a retrained checkpoint is read again; it must not start with
    an underscore, which Streamlit leaves out of the key."""
    return C.load(name)


def model_for(decoder: str, dataset: str):
    """This session's own trained model if it has one, else the shipped default; None when neither exists."""
    mine = st.session_state.get("cap-mine", {}).get((decoder, dataset))
    names = {c.name: c for c in list_checkpoints(C.TASK)}
    name = mine if mine in names else C.default_name(decoder, dataset)
    if name not in names:
        if why := unreadable_shipped([name]).get(name):  # the registry skips a corrupt card: say so
            raise CheckpointError(f"{name}: {why}")
        return None
    stem = names[name].stem
    return load_model(name, stem.with_suffix(".safetensors").stat().st_mtime)


def start_training(spec: C.TrainSpec):
    """The page's training job: train, score on fresh held-out scenes, save to the user registry."""

    def run(on_progress, stop):
        from seqcore.device import device_name

        model, summary = C.train(spec, on_progress=on_progress, stop=stop)
        if not summary["train"]["steps"]:  # stopped before the first step: random weights are not worth saving
            return None
        metrics = C.evaluate(model, spec.dataset, n=200, split=spec.split)
        metrics.pop("examples")
        name = f"{C.default_name(spec.decoder, spec.dataset, spec.split)}-mine-{time.strftime('%H%M%S')}"
        card = C.card_for(model, spec, summary, metrics, device_name(), command="trained on the captioning page")
        C.save(model, card, name)
        return {"name": name, "spec": spec, "metrics": metrics, "stopped": summary["train"]["stopped"]}

    return start_job(JOB, run, name="caption")


# ---------------------------------------------------------------- the scene

left, right = st.columns([1, 2])
with left:
    dataset = st.radio("Dataset", C.DATASETS, horizontal=True, key="cap-dataset",
                       format_func={"shapes": "Shape scenes", "digits": "Handwritten digits"}.get)
    sources = ["Random held-out scene", "Build a scene", "Upload an image"] if dataset == "shapes" else \
        ["Random held-out scene", "Upload an image"]
    source = st.radio("Image", sources, key="cap-source")
    image, truth, boxes, notes = None, None, [], []
    if source == "Random held-out scene":
        if st.button("New scene", key="cap-new", icon=":material/casino:"):
            st.session_state["cap-index"] = st.session_state.get("cap-index", 0) + 1
        idx = st.session_state.get("cap-index", 0)
        scene = C.make_scene(dataset, scenes.scene_rng(C.TEST_SEED + 1, idx, "test"), "test")
        image, truth, boxes = scene.image, scene.caption, scene.boxes
    elif source == "Build a scene":
        objs = []
        for k in (1, 2):
            if k == 2 and not st.checkbox("Second object", value=True, key="cap-two"):
                break
            c1, c2, c3 = st.columns(3)
            objs.append((c1.selectbox(f"Shape {k}", scenes.SHAPES, index=k - 1, key=f"cap-shape{k}"),
                         c2.selectbox(f"Colour {k}", list(scenes.COLOURS), index=2 * (k - 1), key=f"cap-colour{k}"),
                         c3.selectbox(f"Size {k}", list(scenes.SIZES), index=k - 1, key=f"cap-size{k}")))
        relation = st.selectbox("Object 1 is ... object 2", scenes.RELATIONS, key="cap-relation") \
            if len(objs) == 2 else None
        jitter = st.number_input("Layout seed", 0, 10_000, 0, key="cap-seed", help="another random placement")
        scene = scenes.render_scene(objs, relation, rng=np.random.default_rng(int(jitter)))
        image, truth, boxes = scene.image, scene.caption, scene.boxes
    else:
        upload = st.file_uploader("An image (PNG, JPEG, GIF, BMP, WebP; up to 10 MB)", key="cap-upload",
                                  type=None, max_upload_size=10)
        if upload is not None:
            try:
                image, notes = C.preprocess_upload(upload.getvalue(), upload.name)
            except SeqcoreError as e:
                st.error(str(e))
        st.warning("The models only know these synthetic scenes: a photo gets a guess in their small "
                   "vocabulary, shown anyway.")
    for note in notes:
        st.info(note)
    beam = st.slider("Beam width (1 = greedy)", 1, 5, 1, key="cap-beam")
    if image is not None:
        st.image(image, caption=f"reference: {truth}" if truth else "your image (64x64)", width="stretch")


def small_multiples(img: np.ndarray, maps: np.ndarray, words: list[str]) -> None:
    """One shaded copy of the image per word, in a row that wraps. Plain images, not a plotly grid of
    go.Image traces: those sent every pixel as JSON and made a new scene take over a second in the browser."""
    st.image([C.overlay(img, m) for m in maps], caption=words, width=96)


def caption_for(decoder: str, img: np.ndarray):
    """(model, card, Caption) from this session's or the shipped captioner; None after showing why not."""
    try:
        loaded = model_for(decoder, dataset)
    except SeqcoreError as e:
        job = st.session_state.get(JOB)
        checkpoint_problem(
            f"{e}. Press Retrain to train a {decoder} captioner with the default settings (it is saved to your "
            f"checkpoints; `make models` rebuilds the shipped one); the other decoder still works.",
            key=f"cap-retrain-{decoder}", name=f"the {decoder} captioner", busy=bool(job and job.running),
            where="under Train your own",
            retrain=lambda: start_training(C.TrainSpec(decoder=decoder, dataset=dataset, split="iid", n_val=200,
                                                       time_budget_s=300, **TRAIN_DEFAULTS)))
        return None
    if loaded is None:
        st.info(f"No {decoder} captioner for {dataset} yet: train one below (`make models` rebuilds the defaults).")
        return None
    model, card = loaded
    metrics = card.get("metrics", {})
    if metrics.get("bleu4") is not None and metrics["bleu4"] < metrics.get("baseline_nn_bleu4", 0) + 10:
        st.warning(f"{card['name']} does not clearly beat the nearest-neighbour baseline on held-out scenes "
                   f"(BLEU-4 {metrics['bleu4']:.1f} vs {metrics.get('baseline_nn_bleu4', 0):.1f}): read its "
                   "caption as noise. Train a longer run below.")
    cap = C.caption_images(model, img, beam=beam)[0]
    st.markdown(f"### “{cap.text or '(empty)'}”")
    st.caption(f"model {card['name']} · {'greedy' if beam == 1 else f'beam {beam}'} · "
               f"log-prob {cap.score:.2f}")
    return model, card, cap


def show_attention(decoder: str, img: np.ndarray, model, cap) -> None:
    """The word slider's overlay and the small multiples for one decoder's caption."""
    if not cap.words:
        st.info("An empty caption has no attention to show.")
        return
    att = cap.attention  # (words + 1, L, H, N)
    if decoder == "transformer":
        n_layers, n_heads = att.shape[1], att.shape[2]
        options = ["mean of all heads"] + [f"layer {l + 1}, head {h + 1}" for l in range(n_layers)
                                           for h in range(n_heads)]
        pick = st.selectbox("Cross-attention", options, key="cap-head")
        if pick != options[0]:
            i = options.index(pick) - 1
            att = att[:, i // n_heads: i // n_heads + 1, i % n_heads: i % n_heads + 1]
    g = model.grid
    maps = att[: len(cap.words)].mean(axis=(1, 2)).reshape(-1, g, g)
    word = st.select_slider("Word", options=list(range(len(cap.words))), format_func=lambda i: cap.words[i],
                            key=f"cap-word-{decoder}")
    with st.container(key=f"cap-overlay-{decoder}"):
        st.image(C.overlay(img, maps[word]), width=256,
                 caption=f"where it looked while writing “{cap.words[word]}” (peak weight {maps[word].max():.2f})")
    small_multiples(img, maps, cap.words)


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
                       key="cap-view", on_change="rerun")
        for tab, decoder in zip(tabs, C.DECODERS, strict=True):
            if tab.open and results[decoder] is not None:
                with tab:
                    model, _, cap = results[decoder]
                    show_attention(decoder, image, model, cap)

# ---------------------------------------------------------------- held-out scores

st.header("Held-out scores")
rows = []
for c in list_checkpoints(C.TASK):
    m, d = c.card.get("metrics", {}), c.card.get("data", {})
    if not m:
        continue
    rows.append({"model": c.name, "source": c.source, "dataset": d.get("dataset"), "split": d.get("split"),
                 "BLEU-4": m.get("bleu4"), "exact": m.get("exact"),
                 "localisation": m.get("attention_localisation"), "chance loc.": m.get("chance_localisation"),
                 "nearest-neighbour BLEU-4": m.get("baseline_nn_bleu4"),
                 "in-distribution BLEU-4": m.get("iid", {}).get("bleu4"), "n": m.get("n"),
                 "train s": c.card.get("train_seconds")})
if rows:
    st.dataframe(rows, hide_index=True, key="cap-scores")
    st.caption("From each model card, written by `seqcore train caption` on fresh held-out scenes. "
               "Rows with split = compositional were trained without red triangles, green circles and blue "
               "squares and scored on scenes that contain one: BLEU stays respectable while the one word that "
               "matters is wrong.")
c1, c2, c3 = st.columns(3)
eval_model = c1.selectbox("Model", [r["model"] for r in rows] or ["(none)"], key="cap-eval-model")
eval_split = c2.selectbox("Scenes", ["iid", "compositional"], key="cap-eval-split",
                          format_func={"iid": "in distribution", "compositional": "held-out colour-shape pairs"}.get)
eval_n = c3.number_input("Scenes to score", 20, 1000, 200, step=20, key="cap-eval-n")
if st.button("Score on fresh held-out scenes", key="cap-eval", disabled=not rows):
    card = next(c for c in list_checkpoints(C.TASK) if c.name == eval_model)
    ds = card.card.get("data", {}).get("dataset", "shapes")
    if eval_split == "compositional" and ds != "shapes":
        st.error("The compositional split exists for shape scenes only: pick a shapes model or 'in distribution'.")
    else:
        try:
            model, _ = load_model(eval_model, card.stem.with_suffix(".safetensors").stat().st_mtime)
        except SeqcoreError as e:
            st.error(f"{e}. Pick another model.")
        else:
            with st.spinner(f"Captioning {eval_n} new scenes..."):
                result = C.evaluate(model, ds, n=int(eval_n), seed=int(time.time()) % 100_000, split=eval_split)
            st.session_state["cap-eval-result"] = (eval_model, result)
if "cap-eval-result" in st.session_state:
    name, result = st.session_state["cap-eval-result"]
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("BLEU-4", f"{result['bleu4']:.1f}", help=f"nearest-neighbour baseline {result['baseline_nn_bleu4']:.1f}")
    k2.metric("Exact match", f"{result['exact']:.0%}", help=f"baseline {result['baseline_nn_exact']:.0%}")
    k3.metric("Attention localisation", f"{result['attention_localisation']:.0%}",
              help=f"a random peak cell hits {result['chance_localisation']:.0%}")
    k4.metric("Captions / s", f"{result['captions_per_second']:.0f}")
    st.caption(f"{name} on {result['n']} fresh {result['split']} {result['dataset']} scenes (seed {result['seed']}); "
               f"nearest-neighbour baseline BLEU-4 {result['baseline_nn_bleu4']:.1f}, "
               f"exact {result['baseline_nn_exact']:.0%}.")
    st.dataframe(result["examples"], hide_index=True)

# ---------------------------------------------------------------- train your own

st.header("Train your own")
t1, t2, t3, t4 = st.columns(4)
tr_decoder = t1.selectbox("Decoder", C.DECODERS, key="cap-train-decoder", format_func=DECODER_TITLES.get)
tr_dataset = t2.selectbox("Dataset", C.DATASETS, key="cap-train-dataset")
tr_split = t3.selectbox("Split", ["iid", "compositional"], key="cap-train-split",
                        help="compositional: red triangles, green circles and blue squares never appear in training")
tr_n = t4.select_slider("Training scenes", [500, 1000, 2000, 4000, 6000], value=TRAIN_DEFAULTS["n_train"],
                        key="cap-train-n")
tr_epochs = st.slider("Epochs (training stops after 5 minutes whatever this says)", 1, 20, TRAIN_DEFAULTS["epochs"],
                      key="cap-train-epochs")
job = st.session_state.get(JOB)
if st.button("Train", key="cap-train", icon=":material/model_training:", disabled=bool(job and job.running)):
    if tr_split == "compositional" and tr_dataset != "shapes":
        st.error("The compositional split exists for shape scenes only: choose the shapes dataset or the iid split.")
    else:
        start_training(C.TrainSpec(decoder=tr_decoder, dataset=tr_dataset, split=tr_split, n_train=int(tr_n),
                                   n_val=200, epochs=int(tr_epochs), time_budget_s=300))
show_job(JOB)
job = st.session_state.get(JOB)
if job is not None and not job.running and job.result:
    res = job.result
    mine = st.session_state.setdefault("cap-mine", {})
    if res["spec"].split == "iid":
        mine[(res["spec"].decoder, res["spec"].dataset)] = res["name"]
    m = res["metrics"]
    st.success(f"Saved {res['name']} ({res['stopped']}): BLEU-4 {m['bleu4']:.1f} (nearest-neighbour "
               f"{m['baseline_nn_bleu4']:.1f}), exact {m['exact']:.0%}, localisation "
               f"{m['attention_localisation']:.0%} on {m['n']} held-out scenes. "
               + ("The captions above now use it." if res["spec"].split == "iid" else
                  "Compare it with the shipped models in the score table."))
