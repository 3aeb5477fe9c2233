"""Music generation: folk tunes from a char LSTM and a char Transformer, heard in the browser."""

from __future__ import annotations

import streamlit as st

from pages import _music_figures as fig
from pages import _shared as kit
from seqcore import audio
from seqcore.checkpoints import file_version, find_checkpoint, list_checkpoints, zip_bytes
from seqcore.device import set_threads
from seqcore.errors import SeqcoreError
from seqcore.tasks import music

PRIMES = {
    "Let the model choose": "",
    "Jig in D (6/8)": "M:6/8\nL:1/8\nK:D\n",
    "Reel in G (4/4)": "M:4/4\nL:1/8\nK:G\n",
    "Hornpipe in A (C)": "M:C\nL:1/8\nK:A\n",
    "Waltz in C (3/4)": "M:3/4\nL:1/8\nK:C\n",
    "Start of a jig": "M:6/8\nL:1/8\nK:D\n|:A|dfa agf|gfe fed|",
}
JOB = "music-train-job"
TRAINING = music.page_config("lstm")  # the Train tab's starting size, steps and time limit (Retrain uses them)


@st.cache_resource(max_entries=4, show_spinner="Loading the music model...")
def shipped_model(name: str, version: tuple) -> music.CharLM:
    """A shipped or kept model, shared by every session: read-only, used under inference_mode by music.generate.
    `version` (the files' mtimes and sizes) is part of the key, so a rebuilt checkpoint is read again."""
    return music.load(name)[0]


def shipped_problem(kind: str) -> str | None:
    """Why the shipped `kind` model cannot be loaded, or None (only a good load is cached: a fixed file is read)."""
    name = music.DEFAULT_CHECKPOINTS[kind]
    if why := kit.unreadable_shipped([name]).get(name):  # else load would only say "no checkpoint named ..."
        return f"{name}: {why}"
    try:
        get_model(kind)
    except SeqcoreError as e:
        return str(e)
    return None


def start_training(cfg: music.Config):
    """The page's training job: the result becomes "Your trained model" for this session only."""
    return kit.start_job(JOB, lambda report, stop: music.train(cfg, on_progress=report, stop=stop), name="music")


def get_model(choice: str) -> music.CharLM:
    """This session's trained model ("yours"), the shipped `lstm` / `transformer`, or a kept model by name."""
    if choice == "yours":
        return st.session_state["music-user-lm"]
    name = music.DEFAULT_CHECKPOINTS.get(choice, choice)
    return shipped_model(name, file_version(find_checkpoint(name, music.TASK).stem))


def run_generation(choices: list[str], prime: str, opts: dict) -> None:
    """Generate with each model in `choices`; results (or the error) go to session state."""
    results = []
    try:
        for choice in choices:
            lm = get_model(choice)
            g = music.generate(lm, prime, **opts)
            results.append({"label": f"{lm.name}", **fig.render_generation(g, lm)})
    except SeqcoreError as e:
        st.session_state["music-error"] = str(e)
        return
    st.session_state["music-error"] = None
    st.session_state["music-results"] = results


set_threads()  # SEQCORE_THREADS: one-character steps are tiny, and extra threads only contend on a busy server
st.title("Music generation")
links = kit.PageLinks("music")  # a link carries the model, temperature, seed, length and prime
st.caption("A model that has read about 2,450 real folk tunes (O'Neill's 1850 collection and Ryan's Mammoth "
           "Collection, from the music21 corpus) writes new ones in ABC notation, one character at a time.")

fig.lecture()

if (done := kit.adopt(JOB)) is not None:
    # Adopt a finished training run before the model picker is drawn, so it is offered at once.
    st.session_state["music-user-lm"] = done[0]

tab_gen, tab_hum, tab_train, tab_models = st.tabs(["Generate", "Hum a tune", "Train your own", "Models"])

with tab_gen:
    kept = [c.name for c in list_checkpoints(music.TASK) if c.source == "user"]  # kept models (the home page lists)
    options = ["lstm", "transformer"] + (["yours"] if "music-user-lm" in st.session_state else []) + kept
    labels = {"lstm": "LSTM (shipped)", "transformer": "Transformer (shipped)", "yours": "Your trained model",
              **{name: f"{name} (kept)" for name in kept}}
    links.restore([kit.choice("model", "music-model", options),
                   kit.number("temperature", "music-temperature", 0.1, 2.0, music.DEFAULT_TEMPERATURE, step=0.05),
                   kit.number("seed", "music-seed", 0, 1_000_000, 0),
                   kit.number("length", "music-length", 50, 1500, 500, step=50)])
    c1, c2 = st.columns([1, 2])
    with c1:
        choice = st.radio("Model", options, format_func=labels.get, key="music-model")
        preset = st.selectbox("Start from", list(PRIMES), key="music-preset")
        length = st.slider("Most characters", 50, 1500, step=50, key="music-length")
        temperature = st.slider("Temperature", 0.1, 2.0, step=0.05, key="music-temperature")
        mode = st.radio("Sampling", ["full distribution", "top-k", "top-p"], horizontal=True, key="music-mode")
        top_k = st.slider("k", 1, 40, 10, key="music-top-k") if mode == "top-k" else None
        top_p = st.slider("p", 0.1, 1.0, 0.9, 0.05, key="music-top-p") if mode == "top-p" else None
        seed = st.number_input("Seed", 0, 1_000_000, key="music-seed")
        constrain = st.toggle("Keep time (meter-aware decoding)", value=True, key="music-constrain",
                              help="On: no bar may overfill or close early and the ABC stays well formed (the "
                                   "model's choices renormalised over the allowed characters). Off: the raw model.")
    with c2:
        if st.session_state.get("music-prime-preset") != preset:  # a new preset replaces the text
            st.session_state["music-prime-preset"] = preset
            st.session_state["music-prime"] = PRIMES[preset]
        links.restore([kit.text("prime", "music-prime", PRIMES[preset])])
        prime = st.text_area("Prime (the start of the tune, in ABC)", key="music-prime", height=120,
                             help="Header lines like M:6/8, L:1/8, K:D, then notes; empty lets the model start")
        links.publish()
        opts = {"length": length, "temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": int(seed),
                "constrain": constrain}
        b1, b2 = st.columns(2)
        if b1.button("Generate", key="music-generate", type="primary", icon=":material/music_note:"):
            run_generation([choice], prime, opts)
        if b2.button("Compare LSTM and Transformer", key="music-compare"):
            run_generation(["lstm", "transformer"], prime, opts)
    # Said where the broken model is chosen: the other model, and the rest of the page, work as before.
    problem = shipped_problem(choice) if choice in music.KINDS else None
    if problem is not None:
        kit.checkpoint_problem(
            f"The shipped {choice} model cannot be used: {problem}. Press Retrain to train a {TRAINING.size} "
            f"{choice} for your session with the default settings (`make models` rebuilds the shipped file), or "
            "choose the other model.", key=f"music-retrain-{choice}", name=f"the {choice}", busy=kit.busy(JOB),
            where="under Train your own", retrain=lambda: start_training(music.page_config(choice)))
    if st.session_state.get("music-error") and problem is None:  # a broken model's error is said just above
        st.error(st.session_state["music-error"])
    results = st.session_state.get("music-results", [])
    cols = st.columns(len(results)) if len(results) > 1 else [st.container()]
    for i, (col, r) in enumerate(zip(cols, results, strict=False)):
        with col:
            fig.show_tune(f"music-tune-{i}", r["label"], r["tune"], r["gen"])

with tab_hum:
    st.markdown("Hum, whistle or play a few notes (up to 20 s). The pitch of each 10 ms frame comes from "
                "`torchaudio.functional.detect_pitch_frequency`, checked against the spectrum; the notes are "
                "quantised to eighth notes at 120 bpm and become the prime that the model continues.")
    rec = st.audio_input("Record", key="music-hum-mic")
    upload = st.file_uploader("...or upload a WAV", type=["wav"], key="music-hum-file", max_upload_size=5)
    if upload is not None and kit.upload_too_big(upload, 5):
        upload = None
    source = rec if rec is not None else upload
    if source is not None:
        try:
            x, sr = audio.read_wav(source.getvalue(), max_seconds=audio.MAX_HUM_SECONDS)
            hum = audio.hum_to_abc(x, sr)
        except SeqcoreError as e:
            st.error(str(e))
            hum = None
        if hum is not None:
            st.success(f"{len(hum.notes)} notes found ({hum.voiced_share:.0%} of the recording had a steady pitch; "
                       f"the spectrum corrected {hum.octave_fixes} frame estimates).")
            if hum.clipped_share > 0.01:
                st.warning(f"The recording clips ({hum.clipped_share:.0%} of samples at full volume), which can "
                           "put notes an octave off: hum softer or further from the microphone and record again.")
            st.code(hum.abc, language=None)
            hum_choice = st.radio("Continue with", options, format_func=labels.get, horizontal=True,
                                  key="music-hum-model")
            if st.button("Continue my tune", key="music-hum-continue", type="primary"):
                try:
                    lm = get_model(hum_choice)
                    g = music.generate(lm, hum.abc, length=400, temperature=music.DEFAULT_TEMPERATURE, seed=0,
                                       constrain=st.session_state.get("music-constrain", True))
                    st.session_state["music-hum-result"] = {"label": f"Your tune, continued by {labels[hum_choice]}",
                                                            **fig.render_generation(g, lm)}
                except SeqcoreError as e:
                    st.error(str(e))
    if st.session_state.get("music-hum-result"):
        r = st.session_state["music-hum-result"]
        fig.show_tune("music-hummed", r["label"], r["tune"], r["gen"])

with tab_train:
    st.markdown("Train a small model on this server (one CPU core is enough for *tiny* in seconds). The loss "
                "curve updates live, a sample is written every few evaluations, and Stop keeps the best weights "
                "so far. The result replaces the default for your session only.")
    t1, t2, t3 = st.columns(3)
    collections = t1.multiselect("Corpus", list(music.COLLECTIONS), default=list(music.COLLECTIONS),
                                 key="music-train-corpus")
    kind = t2.radio("Model", list(music.KINDS), horizontal=True, key="music-train-kind")
    size = t2.selectbox("Size", ["tiny", "small"], index=["tiny", "small"].index(TRAINING.size), key="music-train-size")
    steps = t3.number_input("Steps", 10, 3000, TRAINING.max_steps, 10, key="music-train-steps")
    budget = t3.number_input("Time limit (s)", 10, 900, int(TRAINING.time_budget_s), 10, key="music-train-budget")
    if st.button("Train", key="music-train", disabled=kit.busy(JOB), icon=":material/model_training:"):
        if not collections:
            st.error("Choose at least one corpus to train on.")
        else:
            start_training(music.page_config(kind, size=size, steps=steps, budget_s=budget, collections=collections))
    kit.show_job(JOB)
    job = st.session_state.get(JOB)
    if job is not None:
        samples = [p for p in job.snapshot() if isinstance(p, music.Sample)]
        if samples:
            st.markdown(f"Sample at step {samples[-1].step}:")
            st.code(samples[-1].text, language=None)
        if (done := kit.trained(job)) is not None:
            lm, card = done
            run = card["training"]["result"]
            st.success(f"Trained {card['hyperparameters']['n_params']:,} parameters for {run['steps']} steps "
                       f"({run['seconds']:.0f} s, {run['stopped']}); held-out {card['metrics']['val_bits_per_char']} "
                       "bits/char. Choose *Your trained model* under Generate, or keep it for later.")
            st.download_button("Download the model (.zip: safetensors + model card)",
                               zip_bytes(music.save, lm, card, lm.name), file_name=kit.safe_filename(f"{lm.name}.zip"),
                               key="music-dl-model")
            kit.keep_model("music-keep", music.save, lm, {**card, "command": "trained on the Music page"}, lm.name,
                           use="It is offered under Generate as *{name} (kept)*; `seqcore music generate --model "
                               "{name}` plays it too")

with tab_models:
    cards = [c.card for c in list_checkpoints(music.TASK)]
    if cards:
        kit.card_table(cards, {"name": "name", "model": "arch", "params": "hyperparameters.n_params",
                           "test bits/char": "metrics.test_bits_per_char",
                           "5-gram bits/char": "metrics.baseline_5gram_test_bits_per_char",
                           "bars matching": "metrics.sample_bar_match_share",
                           "real tunes' bars matching": "metrics.corpus_test_bar_match_share",
                           "train s": "train_seconds", "device": "device"}, key="music-models")
        st.caption("Bits per character on the held-out test tunes (lower is better), scored in 100-character "
                   "windows; bar shares come from tunes sampled at the default temperature.")
    else:
        st.info("No music checkpoints yet: `seqcore train music --model lstm` builds one.")
