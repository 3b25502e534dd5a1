"""Real speech for tests: spoken by flite, packed into any container by sox or PyAV.

flite's ``rms`` voice, not espeak-ng: Whisper tiny.en writes espeak-ng's "seashore" as
"sea shore" whatever its voice, speed, word gap, pitch or noise (none of over a thousand
settings tried gave the seed example's sentence), while it hears ``rms`` word for word in
every container, down to 8 kHz. Debian: ``apt-get install flite sox``.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

SEASHELLS = "She sells seashells by the seashore."

#: Containers sox writes itself.
SOX_FORMATS = frozenset({"wav", "flac", "ogg", "mp3"})

#: Containers sox cannot write, with the PyAV codec that fills them.
AV_CODECS = {"m4a": "aac", "webm": "libopus", "opus": "libopus"}

#: The flite voice Whisper tiny.en hears word for word.
VOICE = "rms"


def make_speech(path: Path, text: str, *, rate: int = 16000, channels: int = 1, fmt: str = "wav") -> Path:
    """Speak ``text`` into ``path`` as ``fmt`` at ``rate`` Hz over ``channels`` channels.

    Opus (``webm``, ``opus``) takes only 8, 12, 16, 24 or 48 kHz.
    """
    if fmt not in SOX_FORMATS and fmt not in AV_CODECS:
        raise ValueError(f"cannot write {fmt!r}; known: {sorted(SOX_FORMATS | set(AV_CODECS))}")
    with tempfile.TemporaryDirectory() as tmp:
        spoken = Path(tmp) / "spoken.wav"
        subprocess.run(["flite", "-voice", VOICE, "-t", text, "-o", str(spoken)], check=True)
        if fmt in SOX_FORMATS:
            _sox(spoken, path, rate, channels, fmt)
        else:
            converted = Path(tmp) / "converted.wav"
            _sox(spoken, converted, rate, channels, "wav")
            _av_encode(converted, path, AV_CODECS[fmt])
    return path


def _sox(source: Path, target: Path, rate: int, channels: int, fmt: str) -> None:
    command = ["sox", str(source), "-r", str(rate), "-c", str(channels), "-t", fmt, str(target)]
    subprocess.run(command, check=True, capture_output=True)


def _av_encode(source: Path, target: Path, codec: str) -> None:
    """Re-encode a WAV file with PyAV; the container follows ``target``'s suffix."""
    import av

    with av.open(str(source)) as reader, av.open(str(target), "w") as writer:
        original = reader.streams.audio[0]
        layout = "mono" if original.channels == 1 else "stereo"
        stream = writer.add_stream(codec, rate=original.rate, layout=layout)
        sample_format = stream.codec_context.codec.audio_formats[0]
        resampler = av.AudioResampler(format=sample_format, layout=layout)
        for frame in [*reader.decode(original), None]:
            for converted in resampler.resample(frame):
                converted.pts = None
                writer.mux(stream.encode(converted))
        writer.mux(stream.encode(None))
