"""store/doc_codec.py: the one codec of compressed JSON documents. Its bytes are what the stores
wrote before it existed (a CDR's compressed size decides whether it stays inline), and its reader
takes both attribute forms, from GetItem (bytes) and from a stream record (base64)."""

from __future__ import annotations

import base64
import json
import zlib

from roam_emp.store import doc_codec

DOC = {"id": "CDR-é\ud800", "total_cost": {"excl_vat": 1.5}, "note": 'a "quoted" line'}


def test_the_stored_bytes_are_the_earlier_encoding() -> None:
    earlier = zlib.compress(json.dumps(DOC, separators=(",", ":")).encode())
    assert doc_codec.pack(DOC) == earlier
    assert b"\\u00e9" in doc_codec.dumps(DOC) and b"\\ud800" in doc_codec.dumps(DOC)  # ASCII


def test_both_forms_are_read_and_written_alike() -> None:
    text = doc_codec.dumps(DOC)
    compressed, string = doc_codec.attribute(text, True), doc_codec.attribute(text, False)
    stream_image = {"B": base64.b64encode(compressed["B"]).decode()}
    for attribute in (compressed, string, stream_image):
        assert doc_codec.loads({"doc": attribute}) == DOC
    assert doc_codec.packed(DOC, string) == string
    assert doc_codec.packed(DOC, compressed) == compressed
    assert doc_codec.loads({"other": string}) is None and doc_codec.loads(None) is None
