"""The RIFF/WAVE header of a mono stream whose length is known before the first sample.

A file can be patched once it is complete; a pipe cannot, so a WAV sent to stdout
needs its sizes up front. Layout (little endian): ``RIFF <size> WAVE``, a ``fmt `` chunk,
for IEEE float a ``fact`` chunk (the frame count, which the format requires for
non-PCM data), then ``data <size>`` followed by the samples (and one pad byte when the
data size is odd).
"""

from __future__ import annotations

import struct

_PCM = 0x0001
_IEEE_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM: {00000001-0000-0010-8000-00AA00389B71}, as stored on disk.
_PCM_GUID = struct.pack("<IHH8s", 1, 0x0000, 0x0010, bytes.fromhex("800000aa00389b71"))
_SPEAKER_FRONT_CENTER = 0x4

#: Bytes per sample of each bit depth.
SAMPLE_BYTES = {"16": 2, "24": 3, "float": 4}

_MAX_RIFF = 0xFFFFFFFF


def wav_header(n_frames: int, sample_rate: int, bit_depth: str) -> bytes:
    """Header for ``n_frames`` mono frames at ``sample_rate`` of ``bit_depth`` ('16',
    '24' or 'float'). 24-bit PCM uses WAVE_FORMAT_EXTENSIBLE, as the format asks for
    more than 16 bits; raises ValueError when the data would not fit in 4 GiB."""
    width = SAMPLE_BYTES[bit_depth]
    data_size = n_frames * width
    if bit_depth == "16":
        fmt = struct.pack("<HHIIHH", _PCM, 1, sample_rate, sample_rate * width, width, 16)
    elif bit_depth == "24":
        fmt = struct.pack("<HHIIHHHHI", _EXTENSIBLE, 1, sample_rate, sample_rate * width,
                          width, 24, 22, 24, _SPEAKER_FRONT_CENTER) + _PCM_GUID
    else:
        fmt = struct.pack("<HHIIHHH", _IEEE_FLOAT, 1, sample_rate, sample_rate * width,
                          width, 32, 0)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if bit_depth == "float":
        chunks += b"fact" + struct.pack("<II", 4, n_frames)
    riff_size = 4 + len(chunks) + 8 + data_size + (data_size & 1)
    if riff_size > _MAX_RIFF:
        raise ValueError(f"{n_frames} frames of {bit_depth}-bit audio do not fit in a WAV "
                         f"file (4 GiB at most)")
    return (b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + chunks
            + b"data" + struct.pack("<I", data_size))


__all__ = ["SAMPLE_BYTES", "wav_header"]
