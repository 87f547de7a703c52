"""What the report's monitors play and show, rendered into report_media/ from a run's deliverables:

- the picture: the delivered video, or an H.264 preview when its codec is not one browsers decode;
- Web Audio files (Opus in .js, see media.py): the stereo mix, the 5.1's three channel pairs, the binaural mix,
  and the stems *as the mix plays them* (mixdown.py), with the reverb returns as one more strip;
- waveform envelopes, spectrograms (the mix's, and each stem's as mixed), and BS.1770 momentary / short-term loudness curves for the meters.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import soundfile as sf

from foleydesigner.report import media
from foleydesigner.report.early_store import take_early, take_early_mixes
from foleydesigner.report.mixdown import on_clip_clock, render_post_plan
from foleydesigner.tools.cpus import TaskPool, usable_cores
from foleydesigner.tools.loudness import LoudnessMeter
from foleydesigner.tools.streams import WavAudio

log = logging.getLogger(__name__)
MEDIA_DIR = "report_media"
#: Envelope points per stem: ~20 per second (enough to see each footstep) and at most 3000 on long clips.
ENVELOPE_RATE_HZ, ENVELOPE_MAX = 20, 3000
RETURNS_ID = "__returns__"  # the reverb returns' strip: the room every stem's send feeds
SPEC_HZ = (40.0, 20_000.0)  # the spectrogram's frequency range (log rows), drawn as its axis by the page
_BLOCK = 1 << 18


def loudness_curve(path: Path) -> dict[str, Any]:
    """BS.1770 momentary (400 ms) and EBU short-term (3 s) loudness every 100 ms, LUFS rounded to 0.1 (the
    meters read them at the playhead; -70 stands for silence)."""
    wav = WavAudio(path)
    meter = LoudnessMeter(wav.sr, weights=(1.0,) * wav.channels if wav.channels not in (1, 2, 6) else None)
    for a in range(0, wav.n, _BLOCK):
        meter.push(wav.read(a, min(wav.n, a + _BLOCK)))
    prof = meter.profile()

    def lufs(ms: np.ndarray) -> list[float]:
        return [round(float(v), 1) for v in np.maximum(-70.0, -0.691 + 10 * np.log10(ms + 1e-20))]

    return {"hop_s": 0.1, "momentary": lufs(prof.blocks), "short_term": lufs(prof.short_term)}


def href(path: str) -> str:
    """A relative URL for a path inside the folder, as written on disk: './' first and every segment
    percent-encoded, so a folder named `javascript:alert(1)` stays a path and a `#` or `%` in a clip's name
    does not end the URL early."""
    return "./" + quote(Path(path).as_posix(), safe="/")


def _read(run_dir: Path, name: str) -> dict[str, Any]:
    path = run_dir / name
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def render_media(run_dir: Path, data: dict[str, Any], dest: Path) -> dict[str, Any]:
    """Everything the page plays or draws from audio and video, into dest (report_media/ once renamed);
    returns what the page needs to find it."""
    out: dict[str, Any] = {"envelopes": {}, "audio": {}, "spectrogram": None, "spectrogram_hz": list(SPEC_HZ),
                           "audio_note": "", "stems_post_plan": False, "faders_db": {}, "loudness": {}, "spectra": {}}
    dur = max(data["duration_s"], 1e-3)
    bins = int(min(ENVELOPE_MAX, max(50, dur * ENVELOPE_RATE_HZ)))
    opus = media.opus_available()
    if not opus:
        out["audio_note"] = "this PyAV build has no Opus encoder: the stems, 5.1 and binaural monitors are off"
    (dest / "audio").mkdir(parents=True, exist_ok=True)

    try:
        with TaskPool(preview_workers()) as pool:
            _render(run_dir, data, dest, out, bins, opus, pool)
    finally:  # after the pool: a queued preview may still read a strip rendered there
        shutil.rmtree(dest / ".scratch", ignore_errors=True)
    return out


def preview_workers() -> int:
    """Threads encoding the previews beside this one: as many more as the process has cores (none on one core)."""
    return min(3, usable_cores() - 1)


def _render(run_dir: Path, data: dict[str, Any], dest: Path, out: dict[str, Any], bins: int, opus: bool,
            pool: TaskPool) -> None:
    """The Opus previews (two thirds of the report's CPU, libopus outside the GIL) are encoded on the pool's
    threads while this one draws the envelopes, spectrograms and loudness curves; each preview is its own file
    and takes its place in out["audio"] when asked for, so the page is the same whatever order they finish in."""

    add_audio = audio_adder(dest, out, pool)
    _picture(run_dir, data, dest)
    _stems(run_dir, data, dest, out, bins, add_audio if opus else None)
    if not (opus and take_early_mixes(run_dir, dest, out, bins)):  # rendered beside the export, if they were
        mix_media(run_dir, dest, out, bins, add_audio if opus else None)


def mix_media(run_dir: Path, dest: Path, out: dict[str, Any], bins: int, add_audio: Any) -> None:
    """The mixes' monitors: the stereo mix's spectrogram, envelope and preview, and every mix's loudness curves
    and previews (the 5.1 as three channel pairs, the binaural mix)."""
    stereo, surround, binaural = run_dir / "mix_stereo.wav", run_dir / "mix_5_1.wav", run_dir / "mix_binaural.wav"
    if stereo.is_file():
        mix = in_memory(WavAudio(stereo))
        media.spectrogram_png(mix, dest / "spectrogram.png", f_range=SPEC_HZ)
        out["spectrogram"] = href(f"{MEDIA_DIR}/spectrogram.png")
        out["envelopes"]["__mix__"] = media.stem_envelope(mix, bins)[0]
        out["loudness"]["stereo"] = loudness_curve(stereo)
        if add_audio:
            add_audio("mix:stereo", mix, (0, 1), 0, mix.n, 128_000)
        del mix
    if surround.is_file() and sf.info(str(surround)).channels == 6:
        out["loudness"]["5.1"] = loudness_curve(surround)
        n = sf.info(str(surround)).frames
        for key, pair in (("5.1:L_R", (0, 1)), ("5.1:C_LFE", (2, 3)), ("5.1:Ls_Rs", (4, 5))):
            if add_audio:
                add_audio(key, surround, pair, 0, n, 128_000)
    if binaural.is_file() and sf.info(str(binaural)).channels == 2:
        out["loudness"]["binaural"] = loudness_curve(binaural)
        if add_audio:  # 160 kb/s: the interaural cues a headphone listener localises by survive the codec
            add_audio("mix:binaural", binaural, (0, 1), 0, sf.info(str(binaural)).frames, 160_000)


def audio_adder(dest: Path, out: dict[str, Any], pool: TaskPool) -> Callable[..., None]:
    """add_audio(key, src, channel pair, start, stop, bitrate, gain): a preview's place in out["audio"] now, its
    file dest/audio/<key>.js once the pool has encoded it."""

    def add_audio(key: str, src: Any, pair: tuple[int, int], start: int, stop: int, bitrate: int, gain: float = 1.0) -> None:
        name = f"audio/{key.replace(':', '_').replace('.', '_')}.js"
        out["audio"][key] = {"src": href(f"{MEDIA_DIR}/{name}"), "offset_s": round(start / 48_000, 6)}
        pool.submit(_encode_to, dest / name, key, src, pair, start, stop, bitrate, gain)

    return add_audio


def _encode_to(path: Path, key: str, src: Any, pair: tuple[int, int], start: int, stop: int, bitrate: int,
               gain: float) -> None:
    path.write_text(media.audio_js(key, media.encode_opus(src, pair, start, stop, bitrate=bitrate, gain=gain)))


def _picture(run_dir: Path, data: dict[str, Any], dest: Path) -> None:
    """The video's URL, or a preview's when browsers cannot decode the delivered picture (an AVI's msmpeg4
    plays as sound only in Chromium: videoWidth 0 and no error event, so the page could not even warn)."""
    video = data["video"]
    if not video.get("file"):
        return
    path = run_dir / video["file"]
    video["url"] = href(video["file"])
    try:
        plays = media.browser_plays(path)
    except Exception as exc:  # noqa: BLE001 - an unreadable video: the page's own error event will say so
        log.warning("cannot probe %s: %s", path, exc)
        return
    if plays:
        return
    codec = media.video_codec(path)[0] or "?"
    stereo = run_dir / "mix_stereo.wav"
    media.h264_preview(path, stereo if stereo.is_file() else None, dest / "preview.mp4")
    video.update(url=href(f"{MEDIA_DIR}/preview.mp4"), preview=True, delivered_codec=codec)
    data["warnings"].append(f"browsers do not play the delivered picture ({codec} in {path.suffix}): the report shows "
                            f"an H.264 preview ({media.PREVIEW_WIDTH} px wide at most, with the stereo mix); "
                            f"{video['file']} itself is unchanged")


def _stems(run_dir: Path, data: dict[str, Any], dest: Path, out: dict[str, Any], bins: int, add_audio: Any) -> None:
    """Envelopes and Web Audio files of every stem, post-plan when the run has a mix plan."""
    post = None
    try:
        post = render_post_plan(run_dir, _read(run_dir, "script.json"), _read(run_dir, "clues.json"),
                                _read(run_dir, "mix_plan.json"), dest / ".scratch")
    except Exception as exc:  # noqa: BLE001 - the raw stems still play; the page says they are pre-plan
        log.warning("report: stems could not be rendered post-plan (%s: %s)", exc.__class__.__name__, exc)
        post = None
    if post is None:
        data["warnings"].append("the Stems monitor plays the stems as generated, before the mix plan (no mix_plan.json "
                                "or stems the mixer did not take): levels are not the mix's")
    else:
        out["stems_post_plan"], out["faders_db"], out["stems_from"] = True, post.faders_db, post.source
    ids = [ev["id"] for ev in data["events"] if ev["stem"]]
    if post is not None and add_audio is not None and take_early(run_dir, dest, out, ids, bins, post.master_gain):
        return  # rendered while the run upmixed (stages.preview_stems), from the same strips
    for ev in data["events"]:
        if not ev["stem"]:
            continue
        src: Any = post.stems.get(ev["id"]) if post else None
        gain = post.master_gain if src is not None else 1.0
        stem_media(ev["id"], in_memory(src if src is not None else raw_stem(run_dir, run_dir / ev["stem"])), gain,
                   dest, out, bins, add_audio)
    if post and post.returns and add_audio:
        returns_media(post, out, bins, add_audio)


def stem_media(sid: str, src: Any, gain: float, dest: Path, out: dict[str, Any], bins: int, add_audio: Any) -> None:
    """One stem's envelope, spectrogram (for its lane, about 30 ms a stem) and Web Audio preview, as mixed."""
    env, first, last = media.stem_envelope(src, bins, gain=gain)
    out["envelopes"][sid] = env
    if first >= 0:
        (dest / "spectra").mkdir(exist_ok=True)
        media.spectrogram_png(src, dest / "spectra" / f"{sid}.png", width=800, height=48, f_range=SPEC_HZ, gain=gain)
        out["spectra"][sid] = href(f"{MEDIA_DIR}/spectra/{sid}.png")
    if add_audio and first >= 0 and getattr(src, "sr", 48_000) == 48_000 and src.channels == 2:
        add_audio(f"stem:{sid}", src, (0, 1), first, last + 1, 96_000, gain)


#: A stem is read once into memory for its envelope, spectrogram and preview (three passes over the file
#: otherwise, a third of a run's report build) when it takes at most this: ~20 min of 48 kHz stereo float.
MEMORY_MAX_BYTES = 1 << 28


class _Loaded:
    """A reader's whole signal, read (and cleaned of NaN and denormals) once."""

    def __init__(self, src: Any) -> None:
        self.n, self.channels, self.sr = src.n, src.channels, getattr(src, "sr", 48_000)
        self.audio = src.read(0, src.n)

    def read(self, a: int, b: int) -> np.ndarray:
        lo, hi = max(0, a), max(0, min(self.n, b))
        if a >= 0 and b <= self.n:
            return self.audio[:, a:b]
        out = np.zeros((self.channels, b - a), np.float32)
        if hi > lo:
            out[:, lo - a: hi - a] = self.audio[:, lo:hi]
        return out


def in_memory(src: Any) -> Any:
    return _Loaded(src) if src.n * src.channels * 4 <= MEMORY_MAX_BYTES else src


def raw_stem(run_dir: Path, path: Path) -> Any:
    """A stem as generated, on the clip's clock when its place is known (a `--stems trimmed` file starts where it
    sounds), else as the file is."""
    mix = run_dir / "mix_stereo.wav"
    return (on_clip_clock(run_dir, path, WavAudio(mix).n) if mix.is_file() else None) or WavAudio(path)


def returns_media(post: Any, out: dict[str, Any], bins: int, add_audio: Any) -> None:
    """The reverb returns summed into one stereo strip (they are a shared bus: no stem owns its share)."""
    srcs = [s for s in post.returns.values() if s.channels == 2]
    if not srcs:
        return

    class _Sum:
        n, channels = max(s.n for s in srcs), 2

        def read(self, a: int, b: int) -> np.ndarray:
            return np.sum([s.read(a, b) for s in srcs], axis=0).astype(np.float32)

    total = _Sum()
    env, first, last = media.stem_envelope(total, bins, gain=post.master_gain)
    out["envelopes"][RETURNS_ID] = env
    if first >= 0:
        add_audio(f"stem:{RETURNS_ID}", total, (0, 1), first, last + 1, 96_000, post.master_gain)
