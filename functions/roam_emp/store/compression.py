"""The compressed form of a stored document: a zstd frame or a zlib stream, told apart by their
first bytes, so every reader reads both whatever the writer chose (items written before zstd,
and items written by a stack set to ``zlib``: docs/operations.md, "Location document
compression").

zstd (RFC 8878) at level 1 compresses a location's document in about a quarter of zlib level 1's
time to about the same size (issue 11, docs/performance.md "Location ingest"), and decompresses
in about a third of zlib's time. ``zstandard`` is imported on first use: the authorize function
imports the location store for its keys and never compresses (tests/test_authorize_hot_path.py).
"""

from __future__ import annotations

import threading
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zstandard import ZstdCompressor, ZstdDecompressor

# RFC 8878 §3.1.1: every zstd frame begins with the Magic_Number 0xFD2FB528, little-endian. No
# zlib stream can begin with these bytes: 0x28 0xB5 read as CMF and FLG fail RFC 1950 §2.2's check
# (CMF * 256 + FLG is not a multiple of 31), so a stored document is one or the other by its head.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

ZSTD = "zstd"
ZLIB = "zlib"
CODECS = (ZSTD, ZLIB)  # what cdk.json location_doc_compression may say (infra/config.py)

# Level 1: zstd's higher levels save nothing on documents of a few KB (docs/performance.md); a
# level's compressor keeps its context between calls, which is most of the gain on small inputs.
ZSTD_LEVEL = 1

# The largest document a reader decompresses. Stored items are written by us, never received as
# compressed bytes, so a decompression bomb cannot come from outside; the bound is defence in
# depth against a damaged or foreign item: a zlib stream can claim about 1,000 times its size (a
# 400 KB DynamoDB item: 400 MB), a zstd frame header up to 2**64 bytes, allocated before a byte
# is decoded. 32 MiB is far above any document we store (an OCPI request body is at most API
# Gateway's 10 MB; a location is a few KB) and below what a function could parse anyway
# (``json.loads`` takes several times the text in memory; the functions have 256-1,024 MB).
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024


class UnreadableDocument(ValueError):
    """Stored bytes that are no zstd frame or zlib stream we wrote, or that would decompress to
    more than ``MAX_DOCUMENT_BYTES``."""


# zstandard's compressors and decompressors must not be used by two threads at once (its
# documentation); a pull compresses on its own thread today, status writes and readers may run
# on pools: one of each per thread, built on the thread's first use.
_PER_THREAD = threading.local()


def _compressor() -> ZstdCompressor:
    compressor: ZstdCompressor | None = getattr(_PER_THREAD, "compressor", None)
    if compressor is None:
        import zstandard

        # The frame carries the content size (what ``decompress`` bounds before it allocates);
        # no checksum: DynamoDB returns what it was sent, checked in transit (its responses'
        # CRC32, which botocore verifies), so 4 more bytes per item would buy nothing.
        compressor = _PER_THREAD.compressor = zstandard.ZstdCompressor(
            level=ZSTD_LEVEL, write_content_size=True, write_checksum=False
        )
    return compressor


def _decompressor() -> ZstdDecompressor:
    decompressor: ZstdDecompressor | None = getattr(_PER_THREAD, "decompressor", None)
    if decompressor is None:
        import zstandard

        decompressor = _PER_THREAD.decompressor = zstandard.ZstdDecompressor(
            max_window_size=MAX_DOCUMENT_BYTES
        )
    return decompressor


def zstd_compress(data: bytes) -> bytes:
    """One zstd frame of ``data`` at ``ZSTD_LEVEL``, its content size in the header."""
    return _compressor().compress(data)


def decompress(data: bytes) -> bytes:
    """The bytes a stored zstd frame or zlib stream holds (told apart by the frame's magic
    number), at most ``MAX_DOCUMENT_BYTES``; ``UnreadableDocument`` for anything else."""
    if data[:4] == ZSTD_MAGIC:
        return _zstd_decompress(data)
    return _zlib_decompress(data)


def _zstd_decompress(data: bytes) -> bytes:
    import zstandard

    try:
        size = zstandard.frame_content_size(data)
        if size < 0:  # ZSTD_CONTENTSIZE_UNKNOWN: not a frame ``zstd_compress`` wrote
            raise UnreadableDocument("zstd frame without its content size: not a document we stored")
        if size > MAX_DOCUMENT_BYTES:
            raise UnreadableDocument(
                f"zstd frame of {size} bytes, more than a stored document may hold ({MAX_DOCUMENT_BYTES})"
            )
        return _decompressor().decompress(data, allow_extra_data=False)
    except zstandard.ZstdError as error:
        raise UnreadableDocument(f"damaged zstd frame: {error}") from error


def _zlib_decompress(data: bytes) -> bytes:
    stream = zlib.decompressobj()
    try:
        out = stream.decompress(data, MAX_DOCUMENT_BYTES)
    except zlib.error as error:
        raise UnreadableDocument(f"neither a zstd frame nor a zlib stream: {error}") from error
    if stream.unconsumed_tail:
        raise UnreadableDocument(
            f"zlib stream of more than {MAX_DOCUMENT_BYTES} bytes, more than a stored document may hold"
        )
    if not stream.eof or stream.unused_data:
        raise UnreadableDocument(
            "neither a zstd frame nor a complete zlib stream: empty, truncated, or followed by other bytes"
        )
    return out
