"""Synthesis, spectrogram, WAV bytes and hummed pitch -> ABC prime."""

import math

import pytest
import torch

from seqcore import audio
from seqcore.errors import InputError
from seqcore.tasks.music_abc import Note


def tone(f, seconds, sr=16_000, amp=0.5):
    t = torch.arange(int(seconds * sr)) / sr
    return amp * torch.sin(2 * math.pi * f * t)


def test_a440_peaks_at_440_and_stays_in_range():
    w = audio.synthesize([Note(69, 0.0, 1.0)])
    spectrum = torch.fft.rfft(w).abs()
    assert float(spectrum.argmax()) * audio.SAMPLE_RATE / len(w) == pytest.approx(440, abs=1.5)
    assert not torch.isnan(w).any() and float(w.abs().max()) <= 1.0


def test_duration_matches_notes_and_ends_silently():
    notes = [Note(60 + i, 0.25 * i, 0.25) for i in range(8)]
    w = audio.synthesize(notes)
    assert len(w) / audio.SAMPLE_RATE == pytest.approx(2.0 + audio.RELEASE, abs=0.01)
    assert abs(float(w[0])) < 1e-3 and abs(float(w[-1])) < 1e-3


def test_envelope_has_no_clicks():
    env = audio.adsr(5000, audio.SAMPLE_RATE)
    assert float(env[0]) < 0.01 and float(env[-1]) == 0.0
    assert float(env.diff().abs().max()) < 0.01  # no jump anywhere, so no click between notes
    # Back-to-back notes: the sample-to-sample step never exceeds what a smooth tone can do.
    w = audio.synthesize([Note(72, 0.0, 0.2), Note(76, 0.2, 0.2), Note(79, 0.4, 0.2)])
    max_step = 2 * math.pi * audio.midi_to_hz(79) * sum(k * a for k, a in enumerate(audio.HARMONICS, 1))
    assert float(w.diff().abs().max()) <= max_step / audio.SAMPLE_RATE


def test_wav_round_trip_and_mel_spectrogram():
    w = audio.synthesize([Note(69, 0.0, 0.5)])
    x, sr = audio.read_wav(audio.wav_bytes(w))
    assert sr == audio.SAMPLE_RATE and torch.allclose(x, w, atol=1e-4)
    mel = audio.mel_spectrogram_db(w)
    assert mel.shape[0] == 64 and mel.shape[1] == len(w) // 256 + 1
    with pytest.raises(InputError, match="WAV"):
        audio.read_wav(b"not a wav")


def test_abc_pitch_names():
    assert [audio.abc_pitch(p) for p in (60, 61, 72, 84, 59, 47)] == ["C", "^C", "c", "c'", "B,", "B,,"]


def test_hummed_sines_become_an_abc_prime():
    melody = [72, 76, 79, 77, 74]  # c e g f d, includes the pitch torchaudio alone puts two octaves low
    x = torch.cat([tone(audio.midi_to_hz(p), 0.5) for p in melody])
    h = audio.hum_to_abc(x, 16_000)
    assert [p for p, _ in h.notes] == melody and all(u == 2 for _, u in h.notes)
    assert h.abc.startswith("M:4/4\nL:1/8\nK:C\n") and "c2 e2 g2 f2|" in h.abc


def test_44k_recording_and_octave_check():
    x = torch.cat([tone(audio.midi_to_hz(p), 0.5, sr=44_100) for p in (60, 64, 67)])
    h = audio.hum_to_abc(x, 44_100)
    assert [p for p, _ in h.notes] == [60, 64, 67]


def test_silence_noise_and_length_are_refused():
    with pytest.raises(InputError, match="silent"):
        audio.hum_to_abc(torch.zeros(16_000), 16_000)
    with pytest.raises(InputError, match="steady pitch"):
        audio.hum_to_abc(torch.randn(16_000, generator=torch.Generator().manual_seed(0)) * 0.3, 16_000)
    with pytest.raises(InputError, match="shorter"):
        audio.hum_to_abc(tone(440, 0.1), 16_000)
    with pytest.raises(InputError, match="at most"):
        audio.hum_to_abc(torch.zeros(16_000 * 25), 16_000)
