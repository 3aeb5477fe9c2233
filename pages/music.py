"""Music generation: folk tunes from a char LSTM and a char Transformer, heard in the browser."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

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
from seqcore import audio
from seqcore.data.music import COLLECTIONS
from seqcore.device import set_threads
from seqcore.errors import SeqcoreError
from seqcore.tasks import music
from seqcore.tasks.music_abc import bar_check, parse_abc
from seqcore.train import TrainConfig

PRIMES = {
    "Let the model choose": "",
    "Jig in D (6/8)": "M:6/8\nL:1/8\nK:D\n",
    "Reel in G (4/4)": "M:4/4\nL:1/8\nK:G\n",
    "Hornpipe in A (C)": "M:C\nL:1/8\nK:A\n",
    "Waltz in C (3/4)": "M:3/4\nL:1/8\nK:C\n",
    "Start of a jig": "M:6/8\nL:1/8\nK:D\n|:A|dfa agf|gfe fed|",
}
JOB = "music_train_job"
# The Train tab's defaults; "Retrain" after a broken shipped checkpoint uses them too.
TRAIN_DEFAULTS = dict(size="tiny", steps=200, budget=120)


@st.cache_resource(show_spinner="Loading the music model...")
def default_model(kind: str) -> music.CharLM:
    """Shared by every session: read-only, used under inference_mode by music.generate."""
    return music.load_lm(kind)


def shipped_problem(kind: str) -> str | None:
    """Why the shipped `kind` model cannot be loaded, or None. Only a good load is cached, so a fixed file
    is picked up on the next run."""
    name = music.DEFAULT_CHECKPOINTS[kind]
    if why := unreadable_shipped([name]).get(name):  # else load_lm would only say "no checkpoint named ..."
        return f"{name}: {why}"
    try:
        default_model(kind)
    except SeqcoreError as e:
        return str(e)
    return None


def start_training(kind: str, size: str, collections: tuple, steps: int, budget: float):
    """The page's training job: the result becomes "Your trained model" for this session only."""
    cfg = TrainConfig(epochs=100, max_steps=int(steps), time_budget_s=float(budget), batch_size=32,
                      lr=3e-3 if kind == "lstm" else 1e-3, eval_every=max(5, int(steps) // 10), patience=4)
    seq = 100 if kind == "lstm" else 128
    return start_job(JOB, lambda report, stop: music.train_music(
        kind, size, collections=collections, seq_len=seq, config=cfg, sample_every=2,
        on_progress=report, stop=stop), name="music")


def get_model(choice: str) -> music.CharLM:
    if choice == "yours":
        return st.session_state["music_user_lm"]
    return default_model(choice)


def render_tune(abc: str) -> dict:
    """Everything shown for one tune, computed once and kept in session state."""
    parsed = parse_abc(abc)
    bars = bar_check(abc)
    wave = audio.synthesize(parsed.notes) if parsed.notes else torch.zeros(0)
    return {"abc": abc, "parsed": parsed, "bars": bars,
            "wav": audio.wav_bytes(wave) if len(wave) else b"",
            "mel": audio.mel_spectrogram_db(wave).numpy() if len(wave) > 2048 else None}


def piano_roll(notes) -> go.Figure:
    fig = go.Figure()
    # One layout update with every rectangle: add_shape per note re-validates all shapes each call (O(n^2),
    # about 5 s for 180 notes on this machine, on every rerun that shows a tune).
    fig.update_layout(shapes=[dict(type="rect", x0=n.start, x1=n.start + n.duration, y0=n.pitch - 0.4,
                                   y1=n.pitch + 0.4, fillcolor="#1f77b4", line_width=0) for n in notes])
    fig.add_scatter(x=[n.start for n in notes], y=[n.pitch for n in notes], mode="markers",
                    marker=dict(size=1, opacity=0), hoverinfo="skip", showlegend=False)
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=30, b=10), title="Piano roll",
                      xaxis_title="seconds", yaxis_title="MIDI pitch")
    return fig


def mel_figure(mel) -> go.Figure:
    frames = mel.shape[1]
    fig = go.Figure(go.Heatmap(z=mel, x=[i * 256 / audio.SAMPLE_RATE for i in range(frames)],
                               colorscale="Magma", colorbar=dict(title="dB")))
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=30, b=10), title="Mel spectrogram (torchaudio)",
                      xaxis_title="seconds", yaxis_title="mel band")
    return fig


def show_tune(key: str, label: str, tune: dict, gen: dict | None = None) -> None:
    parsed, bars = tune["parsed"], tune["bars"]
    st.markdown(f"**{label}**")
    c = st.columns(4)
    c[0].metric("Bars matching the meter", f"{bars.matching}/{bars.bars}",
                help="bars whose note lengths add up to the M: meter in L: units; real tunes: ~84%")
    c[1].metric("Usable text", f"{parsed.usable_share:.0%}", help="share of the text that parsed into notes")
    c[2].metric("Notes", len(parsed.notes))
    if gen:
        c[3].metric("Generated in", f"{gen['seconds']:.2f} s", help=f"{gen['cps']:.0f} characters per second")
    if bars.bars:
        how = ""
        if gen is not None:
            how = " (meter-aware decoding)" if gen.get("constrained") else " (raw model, no meter-aware decoding)"
        st.caption(f"{bars.matching} of {bars.bars} bars have the right length{how}. A pick-up first bar and an "
                   "unfinished last bar are short by design.")
    if parsed.message:
        st.warning(parsed.message)
    st.code(tune["abc"], language=None)
    if tune["wav"]:
        st.audio(tune["wav"], format="audio/wav")
        left, right = st.columns(2)
        left.plotly_chart(piano_roll(parsed.notes), key=f"{key}-roll")
        if tune["mel"] is not None:
            right.plotly_chart(mel_figure(tune["mel"]), key=f"{key}-mel")
    d = st.columns(3)
    d[0].download_button("Download .abc", tune["abc"], file_name=safe_filename(f"{key}.abc"), key=f"{key}-dl-abc")
    if parsed.midi:
        d[1].download_button("Download .mid", parsed.midi, file_name=safe_filename(f"{key}.mid"),
                             mime="audio/midi", key=f"{key}-dl-mid")
    if tune["wav"]:
        d[2].download_button("Download .wav", tune["wav"], file_name=safe_filename(f"{key}.wav"),
                             mime="audio/wav", key=f"{key}-dl-wav")


def gen_info(g: music.Generation) -> dict:
    return {"seconds": g.seconds, "cps": g.chars_per_second, "constrained": g.constrained}


def run_generation(choices: list[str], prime: str, opts: dict) -> None:
    """Generate with each model in `choices`; results (or the error) go to session state."""
    results = []
    try:
        for choice in choices:
            lm = get_model(choice)
            g = music.generate(lm, prime, **opts)
            results.append({"label": f"{lm.name}", "tune": render_tune(g.abc), "gen": gen_info(g)})
    except SeqcoreError as e:
        st.session_state["music_error"] = str(e)
        return
    st.session_state["music_error"] = None
    st.session_state["music_results"] = results


set_threads()  # SEQCORE_THREADS: one-character steps are tiny, and extra threads only contend on a busy server
st.title("Music generation")
st.caption("A model that has read about 2,450 real folk tunes (O'Neill's 1850 collection and Ryan's Mammoth "
           "Collection, from the music21 corpus) writes new ones in ABC notation, one character at a time.")

how_it_works(
    [r"i_t, f_t, o_t = \sigma(W x_t + U h_{t-1} + b),\quad \tilde c_t = \tanh(W_c x_t + U_c h_{t-1} + b_c)",
     r"c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t,\quad h_t = o_t \odot \tanh(c_t),\quad "
     r"p(x_{t+1} \mid x_{\le t}) = \mathrm{softmax}(W_y h_t)",
     r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + M_{\text{causal}}\right) V",
     r"\text{bits per char} = -\frac{1}{N} \sum_t \log_2 p(x_{t+1} \mid x_{\le t})",
     r"\tilde p(x_{t+1} = c \mid x_{\le t}) = \frac{p(c \mid x_{\le t})\,[c \in A_t]}"
     r"{\sum_{c' \in A_t} p(c' \mid x_{\le t})}"],
    "**Problem shape:** many-to-many while training (predict every next character), one-to-many when "
    "generating: the prime goes in, and each sampled character is fed back. The LSTM carries its state "
    "(h, c) and the Transformer a key/value cache, so each new character costs the same however long the "
    "tune is. **Sampling:** logits are divided by the temperature, optionally cut to the top-k or the "
    "top-p nucleus, then sampled with a fixed seed. **Baseline:** a 5-gram character model with "
    "back-off; see the model card numbers under *Models*. **Honesty check:** parsers accept almost "
    "anything, so each tune's bars are added up and compared with its meter. **Keeping time (constrained "
    "decoding):** while sampling, a note-length tracker reads the tune so far and knows the meter (M:), the "
    "unit length (L:) and how full the current bar is. Before each character it works out the set A_t of "
    "allowed continuations: no note that would overfill the bar, no bar line before the bar is full (only a "
    "pick-up first bar may be short), no stray ] or unclosed chord or grace group, no end of the tune before "
    "eight whole bars. The model's distribution is renormalised over A_t (the other characters get "
    "probability 0, the formula above); if nothing is allowed, nothing is masked, so sampling never gets "
    "stuck. Switch *Keep time* off to hear the raw model.",
    limits="the models learn the look of ABC tunes, not music theory: phrases repeat and wander. The raw "
           "models get about half of their bars the wrong length; keeping time fixes the lengths, not the "
           "melody.",
)

_done = trained(st.session_state.get(JOB))
if _done is not None:
    # Adopt a finished training run before the model picker is drawn, so it is offered at once.
    st.session_state["music_user_lm"], st.session_state["music_user_report"] = _done

tab_gen, tab_hum, tab_train, tab_models = st.tabs(["Generate", "Hum a tune", "Train your own", "Models"])

with tab_gen:
    options = ["lstm", "transformer"] + (["yours"] if "music_user_lm" in st.session_state else [])
    labels = {"lstm": "LSTM (shipped)", "transformer": "Transformer (shipped)", "yours": "Your trained model"}
    c1, c2 = st.columns([1, 2])
    with c1:
        choice = st.radio("Model", options, format_func=labels.get, key="music_model")
        preset = st.selectbox("Start from", list(PRIMES), key="music_preset")
        length = st.slider("Most characters", 50, 1500, 500, 50, key="music_length")
        temperature = st.slider("Temperature", 0.1, 2.0, music.DEFAULT_TEMPERATURE, 0.05, key="music_temperature")
        mode = st.radio("Sampling", ["full distribution", "top-k", "top-p"], horizontal=True, key="music_mode")
        top_k = st.slider("k", 1, 40, 10, key="music_top_k") if mode == "top-k" else None
        top_p = st.slider("p", 0.1, 1.0, 0.9, 0.05, key="music_top_p") if mode == "top-p" else None
        seed = st.number_input("Seed", 0, 1_000_000, 0, key="music_seed")
        constrain = st.toggle("Keep time (meter-aware decoding)", value=True, key="music_constrain",
                              help="On: no bar may overfill or close early and the ABC stays well formed (the "
                                   "model's choices renormalised over the allowed characters). Off: the raw model.")
    with c2:
        if st.session_state.get("music_prime_preset") != preset:  # a new preset replaces the text
            st.session_state["music_prime_preset"] = preset
            st.session_state["music_prime"] = PRIMES[preset]
        prime = st.text_area("Prime (the start of the tune, in ABC)", key="music_prime", height=120,
                             help="Header lines like M:6/8, L:1/8, K:D, then notes; empty lets the model start")
        opts = {"length": length, "temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": int(seed),
                "constrain": constrain}
        b1, b2 = st.columns(2)
        if b1.button("Generate", key="music_generate", type="primary", icon=":material/music_note:"):
            run_generation([choice], prime, opts)
        if b2.button("Compare LSTM and Transformer", key="music_compare"):
            run_generation(["lstm", "transformer"], prime, opts)
    # Said where the broken model is chosen: the other model, and the rest of the page, work as before.
    problem = shipped_problem(choice) if choice in music.KINDS else None
    if problem is not None:
        job = st.session_state.get(JOB)
        checkpoint_problem(
            f"The shipped {choice} model cannot be used: {problem}. Press Retrain to train a "
            f"{TRAIN_DEFAULTS['size']} {choice} for your session with the default settings (`make models` rebuilds "
            f"the shipped file), or choose the other model.", key=f"music_retrain_{choice}", name=f"the {choice}",
            busy=job is not None and job.running, where="under Train your own",
            retrain=lambda: start_training(choice, TRAIN_DEFAULTS["size"], tuple(COLLECTIONS),
                                           TRAIN_DEFAULTS["steps"], TRAIN_DEFAULTS["budget"]))
    if st.session_state.get("music_error") and problem is None:  # a broken model's error is said just above
        st.error(st.session_state["music_error"])
    results = st.session_state.get("music_results", [])
    cols = st.columns(len(results)) if len(results) > 1 else [st.container()]
    for i, (col, r) in enumerate(zip(cols, results, strict=False)):
        with col:
            show_tune(f"tune-{i}", r["label"], r["tune"], r["gen"])

with tab_hum:
    st.markdown("Hum, whistle or play a few notes (up to 20 s). The pitch of each 10 ms frame comes from "
                "`torchaudio.functional.detect_pitch_frequency`, checked against the spectrum; the notes are "
                "quantised to eighth notes at 120 bpm and become the prime that the model continues.")
    rec = st.audio_input("Record", key="music_hum_mic")
    upload = st.file_uploader("...or upload a WAV", type=["wav"], key="music_hum_file", max_upload_size=5)
    if upload is not None and upload_too_big(upload, 5):
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
                                  key="music_hum_model")
            if st.button("Continue my tune", key="music_hum_continue", type="primary"):
                try:
                    g = music.generate(get_model(hum_choice), hum.abc, length=400,
                                       temperature=music.DEFAULT_TEMPERATURE, seed=0,
                                       constrain=st.session_state.get("music_constrain", True))
                    st.session_state["music_hum_result"] = {"label": f"Your tune, continued by {labels[hum_choice]}",
                                                            "tune": render_tune(g.abc), "gen": gen_info(g)}
                except SeqcoreError as e:
                    st.error(str(e))
    if st.session_state.get("music_hum_result"):
        r = st.session_state["music_hum_result"]
        show_tune("hummed", r["label"], r["tune"], r["gen"])

with tab_train:
    st.markdown("Train a small model on this server (one CPU core is enough for *tiny* in seconds). The loss "
                "curve updates live, a sample is written every few evaluations, and Stop keeps the best weights "
                "so far. The result replaces the default for your session only.")
    t1, t2, t3 = st.columns(3)
    collections = t1.multiselect("Corpus", list(COLLECTIONS), default=list(COLLECTIONS), key="music_train_corpus")
    kind = t2.radio("Model", list(music.KINDS), horizontal=True, key="music_train_kind")
    size = t2.selectbox("Size", ["tiny", "small"], index=["tiny", "small"].index(TRAIN_DEFAULTS["size"]),
                        key="music_train_size")
    steps = t3.number_input("Steps", 10, 3000, TRAIN_DEFAULTS["steps"], 10, key="music_train_steps")
    budget = t3.number_input("Time limit (s)", 10, 900, TRAIN_DEFAULTS["budget"], 10, key="music_train_budget")
    job = st.session_state.get(JOB)
    busy = job is not None and job.running
    if st.button("Train", key="music_train", disabled=busy, icon=":material/model_training:"):
        if not collections:
            st.error("Choose at least one corpus to train on.")
        else:
            start_training(kind, size, tuple(collections), steps, budget)
    show_job(JOB)
    job = st.session_state.get(JOB)
    if job is not None:
        samples = [p for p in job.snapshot() if isinstance(p, music.Sample)]
        if samples:
            st.markdown(f"Sample at step {samples[-1].step}:")
            st.code(samples[-1].text, language=None)
        if trained(job) is not None:
            lm, report = job.result
            st.success(f"Trained {report['n_params']:,} parameters for {report['train']['steps']} steps "
                       f"({report['train']['seconds']:.0f} s, {report['train']['stopped']}); held-out "
                       f"{report['val_bits_per_char']} bits/char. Choose *Your trained model* under Generate.")
            st.download_button("Download the model (.zip: safetensors + model card)", music.export_zip(lm),
                               file_name=safe_filename(f"{lm.name}.zip"), key="music_dl_model")

with tab_models:
    from seqcore.checkpoints import list_checkpoints

    rows = []
    for c in list_checkpoints(music.TASK):
        m = c.card.get("metrics", {})
        rows.append({"name": c.name, "model": c.arch, "params": c.card.get("hyperparameters", {}).get("n_params"),
                     "test bits/char": m.get("test_bits_per_char"),
                     "5-gram bits/char": m.get("baseline_5gram_test_bits_per_char"),
                     "bars matching": m.get("sample_bar_match_share"),
                     "real tunes' bars matching": m.get("corpus_test_bar_match_share"),
                     "train s": c.card.get("train_seconds"), "device": c.card.get("device")})
    if rows:
        st.dataframe(rows, hide_index=True)
        st.caption("Bits per character on the held-out test tunes (lower is better), scored in 100-character "
                   "windows; bar shares come from tunes sampled at the default temperature.")
    else:
        st.info("No music checkpoints yet: `seqcore train music --model lstm` builds one.")
