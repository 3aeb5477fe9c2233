"""Sound for the music page, in torch: notes -> waveform, mel spectrogram, WAV bytes, hummed pitch -> ABC.

Synthesis: each note is a sum of harmonics of f = 440 * 2^((pitch - 69) / 12) under an ADSR
envelope that starts and ends at zero (so notes never click), mixed and scaled into [-1, 1].
Pitch: torchaudio's detect_pitch_frequency (normalised cross-correlation), checked per frame
against the spectrum: it can report an octave too low, which shows as no energy at that frequency.
"""

from __future__ import annotations

import io
import math
import wave
from dataclasses import dataclass

import torch

from seqcore.errors import InputError

SAMPLE_RATE = 22_050
HARMONICS = (1.0, 0.5, 0.3, 0.15, 0.08)  # a soft, reed-like timbre
ATTACK, DECAY, SUSTAIN, RELEASE = 0.01, 0.08, 0.7, 0.08  # seconds, seconds, level, seconds
MAX_AUDIO_SECONDS = 300.0


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12)


def adsr(n_on: int, sr: int) -> torch.Tensor:
    """(n_on + release samples,) envelope: attack, decay to sustain, hold, release to exactly 0."""
    a, d, r = max(1, int(ATTACK * sr)), max(1, int(DECAY * sr)), max(1, int(RELEASE * sr))
    a = min(a, max(1, n_on // 2))
    d = min(d, max(1, n_on - a))
    hold = max(0, n_on - a - d)
    env = torch.cat([
        torch.linspace(0, 1, a + 1)[1:],            # starts just above 0, reaches 1
        torch.linspace(1, SUSTAIN, d + 1)[1:],
        torch.full((hold,), SUSTAIN),
    ])[:n_on]
    level = float(env[-1]) if len(env) else 0.0
    return torch.cat([env, torch.linspace(level, 0, r + 1)[1:]])  # ends at exactly 0


def harmonic_sum(theta: torch.Tensor, amps: list[float]) -> torch.Tensor:
    """(n,) sum_k amps[k-1] * sin(k * theta), with one sin and one cos per sample (the Chebyshev recurrence
    sin(k t) = 2 cos(t) sin((k-1) t) - sin((k-2) t)) instead of one sin per harmonic: a tune's audio is over a
    million samples and the sines were most of the music page's synthesis time."""
    s1 = torch.sin(theta)
    tone = amps[0] * s1 if amps else torch.zeros_like(theta)
    two_cos, prev, cur = 2 * torch.cos(theta), torch.zeros_like(theta), s1
    for amp in amps[1:]:
        prev, cur = cur, two_cos * cur - prev
        tone += amp * cur
    return tone


def synthesize(notes, sample_rate: int = SAMPLE_RATE, gain: float = 0.9) -> torch.Tensor:
    """Notes (objects with .pitch, .start, .duration in seconds, .velocity) -> mono waveform (N,) in [-1, 1].

    N = (last note end + release) * sample_rate.
    """
    if sample_rate < 22_050:
        raise InputError("use a sample rate of at least 22,050 Hz")
    notes = [n for n in notes if n.duration > 0 and n.start < MAX_AUDIO_SECONDS]
    if not notes:
        return torch.zeros(0)
    end = max(n.start + n.duration for n in notes) + RELEASE
    out = torch.zeros(int(math.ceil(end * sample_rate)) + 1)
    nyquist = sample_rate / 2
    for n in notes:
        f = midi_to_hz(n.pitch)
        n_on = max(2, int(round(n.duration * sample_rate)))
        env = adsr(n_on, sample_rate)
        # (n,) phase, wrapped to [0, 2 pi) in float64 so float32 keeps it exact to ~1e-7 (16-bit audio resolves 3e-5)
        theta = torch.remainder(torch.arange(len(env), dtype=torch.float64) * (2 * math.pi * f / sample_rate),
                                2 * math.pi).float()
        tone = harmonic_sum(theta, [amp for k, amp in enumerate(HARMONICS, start=1) if k * f < nyquist])
        s = int(round(n.start * sample_rate))
        seg = (tone * env * (getattr(n, "velocity", 90) / 127))[: len(out) - s]
        out[s: s + len(seg)] += seg
    peak = float(out.abs().max())
    return out * (gain / peak) if peak > 0 else out


def mel_spectrogram_db(wave_: torch.Tensor, sample_rate: int = SAMPLE_RATE, n_mels: int = 64) -> torch.Tensor:
    """(N,) waveform -> (n_mels, frames) log-mel power in dB (torchaudio)."""
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate, n_fft=1024, hop_length=256, n_mels=n_mels)
    return torchaudio.transforms.AmplitudeToDB(top_db=80)(mel(wave_.float()))


def wav_bytes(wave_: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM WAV file bytes (stdlib wave)."""
    pcm = (wave_.clamp(-1, 1) * 32767).round().to(torch.int16).numpy().tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def read_wav(data: bytes, max_seconds: float = 60.0) -> tuple[torch.Tensor, int]:
    """WAV bytes -> (mono float waveform (N,), sample rate); InputError for anything else."""
    import numpy as np

    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            sr, width, channels, n = w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()
            if n / max(1, sr) > max_seconds:
                raise InputError(f"the recording is {n / sr:.0f} s long; use at most {max_seconds:.0f} s")
            raw = w.readframes(n)
    except InputError:
        raise
    except (wave.Error, EOFError, RuntimeError, ValueError) as e:  # RuntimeError: wave on a cut-off chunk
        why = str(e) or type(e).__name__  # EOFError on an empty file has no text of its own
        raise InputError(f"this is not a PCM WAV file ({why}); record again or upload a .wav") from None
    if channels < 1 or len(raw) % (channels * max(1, width)):
        raise InputError(f"this WAV file is damaged ({channels} channels of {width}-byte samples do not fit its "
                         f"{len(raw)} bytes of audio); record again or upload another .wav")
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 2**23
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / 2**31
    else:
        raise InputError(f"unsupported WAV sample width of {width} bytes")
    if sr < 8000:
        raise InputError(f"the sample rate ({sr} Hz) is too low; record at 16 kHz or more")
    x = torch.from_numpy(x.copy()).reshape(-1, channels).mean(1)
    return x, sr


# ---- hummed melody -> ABC prime ----------------------------------------------------------

PITCH_SR = 16_000
FRAME = 0.01  # seconds per pitch frame
MAX_HUM_SECONDS = 20.0
CLIP_LEVEL = 0.99  # |sample| at or above this counts as clipped
_NAMES = ["C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B"]


def abc_pitch(midi: int) -> str:
    """MIDI number -> ABC note name (key of C, sharps): 60 -> C, 72 -> c, 59 -> B,, 84 -> c'."""
    name = _NAMES[midi % 12]
    octave = midi // 12 - 1  # 60 -> 4
    if octave >= 5:
        letter = name[-1].lower()
        return name[:-1] + letter + "'" * (octave - 5)
    return name + "," * (4 - octave)


@dataclass
class Hummed:
    notes: list[tuple[int, int]]   # (MIDI pitch, length in eighth notes)
    abc: str                       # an ABC prime: header + the quantised melody
    voiced_share: float            # share of frames with a steady pitch
    frame_hz: list[float]          # per-frame pitch after the spectrum check (0 = unvoiced)
    octave_fixes: int              # frames where the spectrum overruled an octave-low estimate
    clipped_share: float = 0.0     # share of samples at full scale (a clipped recording distorts the pitch)


def _peak_near(col: torch.Tensor, f: float, bin_hz: float, tol: float = 0.04) -> tuple[float, float]:
    """(refined frequency, magnitude) of the strongest bin within +-tol of f, by parabolic interpolation."""
    lo, hi = max(1, int(f * (1 - tol) / bin_hz)), min(len(col) - 2, int(math.ceil(f * (1 + tol) / bin_hz)))
    if hi < lo:
        return f, 0.0
    k = lo + int(col[lo: hi + 1].argmax())
    a, b, c = float(col[k - 1]), float(col[k]), float(col[k + 1])
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return (k + max(-0.5, min(0.5, shift))) * bin_hz, b


def frame_pitches(x: torch.Tensor, sr: int) -> tuple[torch.Tensor, int]:
    """(N,) waveform -> ((frames,) Hz, 0 where unvoiced; number of octave corrections).

    The cross-correlation estimate works in whole-sample lags (a few % off at high pitch) and can
    land on a sub-harmonic; each frame's spectrum refines it, or overrules it when there is no
    energy at the estimated frequency (then the lowest strong sub-harmonic of the peak is the pitch).
    """
    import torchaudio.functional as AF

    if sr != PITCH_SR:
        x = AF.resample(x, sr, PITCH_SR)
    hop = int(math.ceil(PITCH_SR * FRAME))
    f0 = AF.detect_pitch_frequency(x[None], PITCH_SR, frame_time=FRAME, win_length=3, freq_low=100,
                                   freq_high=1000)[0]
    n_fft = 2048
    spec = torch.stft(x, n_fft, hop_length=hop, window=torch.hann_window(n_fft), center=True,
                      return_complex=True).abs()  # (bins, frames)
    n = min(len(f0), spec.shape[1])
    frames = torch.nn.functional.pad(x, (0, n * hop))[: n * hop].reshape(n, hop)
    rms = frames.pow(2).mean(1).sqrt()
    loud = rms > max(0.005, 0.1 * float(rms.max()))
    flatness = torch.exp(torch.log(spec + 1e-9).mean(0)) / (spec.mean(0) + 1e-9)  # ~1 for white noise
    bin_hz = PITCH_SR / n_fft
    low_bin = int(90 / bin_hz)
    fixes = 0
    out = torch.zeros(len(f0))
    for i in range(n):
        if not loud[i] or float(flatness[i]) > 0.3:
            continue
        col = spec[:, i]
        peak_f, peak_mag = _peak_near(col, (low_bin + int(col[low_bin:].argmax())) * bin_hz, bin_hz, 0.01)
        f, mag = _peak_near(col, float(f0[i]), bin_hz)
        if mag < 0.1 * peak_mag:
            fixes += 1
            f = peak_f
            for k in (3, 2):
                sub, sub_mag = _peak_near(col, peak_f / k, bin_hz)
                if sub >= 90 and sub_mag > 0.3 * peak_mag:
                    f = sub
                    break
        if 90 <= f <= 1100:
            out[i] = f
    return out, fixes


def hum_to_abc(x: torch.Tensor, sr: int, bpm: float = 120.0, meter: str = "4/4") -> Hummed:
    """Quantise a hummed melody into an ABC prime (L:1/8, key of C), or InputError saying what to fix."""
    if x.numel() < sr * 0.3:
        raise InputError("the recording is shorter than 0.3 s: hum at least a few notes")
    if x.numel() > sr * MAX_HUM_SECONDS:
        raise InputError(f"the recording is {x.numel() / sr:.0f} s long: hum at most {MAX_HUM_SECONDS:.0f} s")
    if float(x.abs().max()) < 1e-3:
        raise InputError("the recording is silent: check the microphone and hum louder")
    hz, fixes = frame_pitches(x, sr)
    voiced = hz > 0
    share = float(voiced.float().mean())
    if share < 0.15:
        raise InputError(f"no steady pitch found (only {share:.0%} of the recording is tonal): hum or whistle "
                         "single notes, closer to the microphone, with less background noise")
    midi = torch.where(voiced, 69 + 12 * torch.log2(hz.clamp(min=1) / 440), torch.zeros_like(hz)).round()
    # A 70 ms median removes one-frame glitches at note changes without blurring notes together.
    padded = torch.nn.functional.pad(midi[None, None], (3, 3), mode="replicate")[0, 0]
    midi = padded.unfold(0, 7, 1).median(-1).values.int()
    eighth = 60.0 / bpm / 2
    min_frames = max(2, int(0.06 / FRAME))
    runs: list[list[int]] = []  # [pitch, frames]
    for p in midi.tolist():
        if runs and runs[-1][0] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    notes: list[tuple[int, int]] = []
    for p, n in runs:
        if p == 0 or n < min_frames:
            continue
        notes.append((int(min(max(p, 36), 96)), min(max(1, int(round(n * FRAME / eighth))), 8)))
    if not notes:
        raise InputError("no note lasted long enough to keep: hum each note for at least a tenth of a second")
    bar_units = int(8 * float(sum(int(v) for v in meter.split("/")[:1])) / int(meter.split("/")[1]))
    body, filled = [], 0
    for p, u in notes:
        u = min(u, bar_units - filled)  # a note that would cross the bar line is cut at it
        body.append(abc_pitch(p) + (str(u) if u > 1 else ""))
        filled += u
        if filled >= bar_units:
            body.append("|")
            filled = 0
    abc = f"M:{meter}\nL:1/8\nK:C\n" + " ".join(body).replace(" |", "|")
    if not abc.endswith("|"):
        abc += " "
    clipped = float((x.abs() >= CLIP_LEVEL).float().mean())
    return Hummed(notes, abc, share, hz.tolist(), fixes, clipped)
