"""Showing a tune on the music page: what is drawn (render_tune: notes, bar check, audio, mel spectrogram, computed
once per tune), the piano roll and spectrogram figures, and the tune panel (figures, player, downloads)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

from pages._shared import safe_filename
from seqcore import audio
from seqcore.tasks import music


def render_tune(abc: str) -> dict:
    """Everything shown for one tune, computed once and kept in session state: show_tune draws it."""
    parsed = music.parse_abc(abc)
    wave = audio.synthesize(parsed.notes) if parsed.notes else torch.zeros(0)
    return {"abc": abc, "parsed": parsed, "bars": music.bar_check(abc),
            "wav": audio.wav_bytes(wave) if len(wave) else b"",
            "mel": audio.mel_spectrogram_db(wave).numpy() if len(wave) > 2048 else None}


def gen_info(g: music.Generation) -> dict:
    return {"seconds": g.seconds, "cps": g.chars_per_second, "constrained": g.constrained}


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
    """mel (n_mels, frames) in dB, frames 256 samples apart."""
    frames = mel.shape[1]
    fig = go.Figure(go.Heatmap(z=mel, x=[i * 256 / audio.SAMPLE_RATE for i in range(frames)],
                               colorscale="Magma", colorbar=dict(title="dB")))
    fig.update_layout(height=230, margin=dict(l=10, r=10, t=30, b=10), title="Mel spectrogram (torchaudio)",
                      xaxis_title="seconds", yaxis_title="mel band")
    return fig


def show_tune(key: str, label: str, tune: dict, gen: dict | None = None) -> None:
    """One tune: its bar check and figures, the ABC text, the audio player and downloads (keys under `key`)."""
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
