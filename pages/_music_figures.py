"""Showing a tune on the music page: what is drawn (render_tune: notes, bar check, audio, mel spectrogram;
render_generation adds how it was made: novelty, structure, each note's confidence; computed once per tune), the
piano roll and spectrogram figures, the tune panel (figures, player, downloads, nearest training tune) and the page's
lecture."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

from pages._shared import how_it_works, safe_filename
from seqcore import audio
from seqcore.tasks import music


def render_tune(abc: str) -> dict:
    """Everything shown for one tune, computed once and kept in session state: show_tune draws it."""
    parsed = music.parse_abc(abc)
    wave = audio.synthesize(parsed.notes) if parsed.notes else torch.zeros(0)
    return {"abc": abc, "parsed": parsed, "bars": music.bar_check(abc),
            "wav": audio.wav_bytes(wave) if len(wave) else b"",
            "mel": audio.mel_spectrogram_db(wave).numpy() if len(wave) > 2048 else None}


def render_generation(g: music.Generation, lm: music.CharLM) -> dict:
    """A generated tune (render_tune) and how it was made: speed, decoding, its nearest tune among the ones `lm`
    was trained on, its parts and repeats, and per played note the probability the model gave its letter."""
    tune = render_tune(g.abc)
    return {"tune": tune, "gen": {
        "seconds": g.seconds, "cps": g.chars_per_second, "constrained": g.constrained,
        "novelty": music.novelty(g.abc, music.index_for(lm.card)), "structure": music.structure(g.abc),
        "confidence": music.note_confidence(g.abc, g.char_probs, tune["parsed"].notes)}}


CONFIDENCE = "Viridis"  # dark purple: the model guessed (low probability), yellow: it was sure
PRIME_GREY = "#b0b0b0"


def piano_roll(notes, confidence: list[float | None] | None = None) -> go.Figure:
    """Notes as horizontal bars (start -> start + duration at their pitch); with `confidence` (per note, None: from
    the prime or not matched) coloured by it, with a colour bar. One bar trace per colouring, not a layout shape per
    note: a few hundred shapes took ~0.3 s to build here and longer to draw in the browser."""
    conf = confidence if confidence is not None and len(confidence) == len(notes) else [None] * len(notes)
    scored = [i for i, p in enumerate(conf) if p is not None]
    rest = [i for i, p in enumerate(conf) if p is None]
    known = bool(scored)
    fig = go.Figure()

    def bars(idx: list[int], marker: dict, text: list[str] | None) -> None:
        fig.add_bar(x=[notes[i].duration for i in idx], base=[notes[i].start for i in idx],
                    y=[notes[i].pitch for i in idx], orientation="h", width=0.8, marker=dict(line_width=0, **marker),
                    showlegend=False, text=text, textposition="none",
                    hoverinfo="text" if text else "skip")

    if known:  # the scored notes first: their trace carries the colour scale and its bar
        bars(scored, dict(color=[conf[i] for i in scored], cmin=0, cmax=1, colorscale=CONFIDENCE, showscale=True,
                          colorbar=dict(title="p(note)", thickness=12, tickformat=".0%")),
             [f"p = {conf[i]:.0%}" for i in scored])
    if rest:
        bars(rest, dict(color=PRIME_GREY if known else "#1f77b4"),
             ["no probability: the prime, or an ornament"] * len(rest) if known else None)
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=30, b=10), barmode="overlay",
                      title="Piano roll, coloured by the model's confidence" if known else "Piano roll",
                      xaxis_title="seconds", yaxis_title="MIDI pitch")
    return fig


MEL_COLUMNS = 600  # the heatmap is ~650 px wide: more columns than that are averaged away by the browser anyway


def mel_figure(mel) -> go.Figure:
    """mel (n_mels, frames) in dB, frames 256 samples apart, drawn with at most MEL_COLUMNS columns (runs of
    `step` frames averaged): a one-minute tune has ~5,000 frames, 1.7 MB of JSON per draw, at full resolution."""
    step = max(1, -(-mel.shape[1] // MEL_COLUMNS))
    frames = mel.shape[1] // step * step  # whole runs only: at most step - 1 frames (< 0.1 s) dropped at the end
    z = mel[:, :frames].reshape(mel.shape[0], -1, step).mean(-1)  # (n_mels, columns)
    seconds = step * 256 / audio.SAMPLE_RATE  # per column; x is the column's centre
    fig = go.Figure(go.Heatmap(z=z, x=[(i + 0.5) * seconds for i in range(z.shape[1])],
                               colorscale="Magma", colorbar=dict(title="dB")))
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=30, b=10), title="Mel spectrogram (torchaudio)",
                      xaxis_title="seconds", yaxis_title="mel band")
    return fig


def show_tune(key: str, label: str, tune: dict, gen: dict | None = None) -> None:
    """One tune: its bar check, structure and novelty (a generated one), the ABC text, the nearest training tune,
    the audio player, figures (the piano roll coloured by confidence) and downloads (keys under `key`)."""
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
    if gen is not None and "structure" in gen:
        st.markdown(structure_line(gen["structure"]))
    if gen is not None and "novelty" in gen:
        show_novelty(gen["novelty"])
    if parsed.message:
        st.warning(parsed.message)
    st.code(tune["abc"], language=None)
    if gen is not None and "novelty" in gen:
        show_nearest(key, gen["novelty"])
    if tune["wav"]:
        st.audio(tune["wav"], format="audio/wav")
        confidence = gen.get("confidence") if gen else None
        if confidence and any(p is not None for p in confidence):
            st.caption("Each note is coloured by the probability the model gave its letter at the moment it wrote "
                       "it (yellow: sure, dark purple: a guess among several; grey: the prime you wrote, ornaments).")
        left, right = st.columns(2)
        left.plotly_chart(piano_roll(parsed.notes, confidence), key=f"{key}-roll")
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


def structure_line(s) -> str:
    """One line: the parts (bars per part), balanced repeats, whole parts (music.structure's verdict)."""
    parts = " + ".join(f"{p:g}" for p in s.parts) or "none"
    two = "two whole parts, like most folk tunes" if s.whole and len(s.parts) == 2 else (
        "whole parts (4-bar phrases)" if s.whole else "parts not whole 4-bar phrases")
    return (f"**Structure:** {len(s.parts)} part(s) of {parts} bars · repeats "
            f"{'balanced' if s.balanced else 'unbalanced (a |: without its :|)'} · {two}")


@st.cache_data(max_entries=16, show_spinner=False)
def tune_audio(abc: str) -> bytes:
    """A training tune's WAV, made when asked for (about 0.2 s)."""
    parsed = music.parse_abc(abc)
    return audio.wav_bytes(audio.synthesize(parsed.notes)) if parsed.notes else b""


def show_novelty(n) -> None:
    """The nearest training tune in a line, and a warning at music.CLOSE and above."""
    runs = f"{music.NGRAM}-note runs"
    if n.nearest is None:
        st.markdown(f"**Novelty:** no run of {music.NGRAM} notes in common with any training tune.")
        return
    st.markdown(f"**Novelty:** nearest training tune #{n.nearest} holds {n.overlap:.0%} of this tune's {runs}; "
                f"longest shared run {n.shared_run} notes (the ABC of #{n.nearest} is under the tune).")
    if n.close:
        st.warning(f"Close to training tune #{n.nearest}: {n.overlap:.0%} of its {runs} are in that tune (flagged "
                   f"at {music.CLOSE:.0%} and above), so this is a variant of a tune the model read, not a new one.")


def show_nearest(key: str, n) -> None:
    """The nearest training tune itself, to read and play, in an expander."""
    if n.nearest is None:
        return
    with st.expander(f"Training tune #{n.nearest}"):
        st.code(n.nearest_tune, language=None)
        if st.toggle("Play it", key=f"{key}-near-play") and (wav := tune_audio(n.nearest_tune)):
            st.audio(wav, format="audio/wav")


def lecture() -> None:
    """The "How it works" expander: LSTM and attention equations, bits per char, constrained decoding, limits."""
    how_it_works(
        [r"i_t, f_t, o_t = \sigma(W x_t + U h_{t-1} + b),\quad \tilde c_t = \tanh(W_c x_t + U_c h_{t-1} + b_c)",
         r"c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t,\quad h_t = o_t \odot \tanh(c_t),\quad "
         r"p(x_{t+1} \mid x_{\le t}) = \mathrm{softmax}(W_y h_t)",
         r"\mathrm{Attention}(Q, K, V) = "
         r"\mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + M_{\text{causal}}\right) V",
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
        "stuck. Switch *Keep time* off to hear the raw model. **Copying or composing?** Each tune is read as its "
        f"run of pitches and compared with every training tune by shared runs of {music.NGRAM} notes: the tune sharing "
        f"the most is shown beside it, and at {music.CLOSE:.0%} of its runs or more it is flagged as close to that "
        "tune. **Confidence:** each character's probability in the distribution it was drawn from (after the "
        "mask and the temperature) colours its note on the piano roll. **Structure:** most of these tunes are two "
        "parts of 8 bars, each repeated (|: ... :|); under each tune, its parts in bars and whether repeats close.",
        limits="the models learn the look of ABC tunes, not music theory: phrases repeat and wander. The raw "
               "models get about half of their bars the wrong length; keeping time fixes the lengths, not the "
               "melody.",
    )
