"""Location documents compressed by zstd or zlib (issue 11; store/compression.py): every reader
reads both forms, the writer follows cdk.json ``location_doc_compression``, and what cannot be
read fails with a clear error (moto in-process for the store)."""

from __future__ import annotations

import base64
import json
import os
import threading
import zlib
from typing import Any

import pytest

from roam_emp import config, topology
from roam_emp.domain import outbox
from roam_emp.domain.location_pull import LocationPuller
from roam_emp.domain.outbox import OutboxRelay
from roam_emp.ocpi.locations import Location
from roam_emp.simulator.network import Network
from roam_emp.store import aws, compression
from roam_emp.store import locations as store
from roam_emp.store.compression import MAX_DOCUMENT_BYTES, ZSTD_MAGIC, UnreadableDocument, decompress
from roam_emp.store.locations import IncomingLocation, LocationCache

from .helpers import example

CODECS = ("zstd", "zlib")
STREAM = "2026-11-30T00:00:00.000"


def _page(size: int = 20) -> list[dict[str, Any]]:
    network = Network(size=size, seed=3)
    return [network.locations[i] for i in sorted(network.locations)]


def _is_zstd(data: bytes) -> bool:
    return data[:4] == ZSTD_MAGIC


# The compressed form ---------------------------------------------------------------------------


def test_both_forms_read_back_as_written() -> None:
    for doc in (*(store.encode(raw).doc_bytes for raw in _page()), b"", b"{}", "straße 東京 🚗".encode()):
        frame = compression.zstd_compress(doc)
        assert _is_zstd(frame) and decompress(frame) == doc
        for level in (1, 6, 9):  # what the store has written, and zlib's default
            assert decompress(zlib.compress(doc, level)) == doc


def _forged_zstd_header(content_size: int) -> bytes:
    """A frame header (RFC 8878 §3.1.1.1) claiming ``content_size``: Single_Segment_Flag set and
    an 8-byte Frame_Content_Size, then one empty raw last block."""
    return ZSTD_MAGIC + bytes([0b1110_0000]) + content_size.to_bytes(8, "little") + b"\x01\x00\x00"


def _frame_without_size() -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(write_content_size=False).compress(b'{"id":"LOC1"}')


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "neither a zstd frame nor a complete zlib stream: empty"),
        (b'{"id":"LOC1"}', "neither a zstd frame nor a zlib stream"),  # stored uncompressed
        (ZSTD_MAGIC + b"garbage after the magic", "damaged zstd frame"),
        (compression.zstd_compress(b'{"id":"LOC1"}' * 50)[:-5], "damaged zstd frame"),  # truncated
        (compression.zstd_compress(b'{"id":"LOC1"}') + b"\x00", "damaged zstd frame"),  # trailing bytes
        (_forged_zstd_header(2**40), "more than a stored document may hold"),  # allocated before decoding
        (_frame_without_size(), "without its content size"),
        (zlib.compress(b'{"id":"LOC1"}' * 50)[:-5], "truncated"),
        (zlib.compress(b'{"id":"LOC1"}') + b"\x00", "followed by other bytes"),
        (zlib.compress(b"\x00" * (MAX_DOCUMENT_BYTES + 1), 1), "more than a stored document may hold"),
    ],
)
def test_what_is_no_document_we_wrote_is_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableDocument, match=message):
        decompress(data)


def test_a_document_of_the_bound_is_read() -> None:
    doc = b" " * MAX_DOCUMENT_BYTES
    assert decompress(zlib.compress(doc, 1)) == doc
    assert decompress(compression.zstd_compress(doc)) == doc


def test_each_thread_compresses_with_its_own_compressor() -> None:
    """zstandard's compressors must not be shared by threads running at once (status writes and
    reads run on pools): one per thread, each reused."""
    seen: list[object] = []

    def compress() -> None:
        compression.zstd_compress(b"{}")
        seen.extend([compression._compressor(), compression._compressor()])

    threads = [threading.Thread(target=compress) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert seen[0] is seen[1] and seen[2] is seen[3] and seen[0] is not seen[2]


def test_the_codec_is_refused_when_unknown() -> None:
    with pytest.raises(ValueError, match="must be one of"):
        store.compress_doc(b"{}", 100, "brotli")


# The store ---------------------------------------------------------------------------------------


def _location(location_id: str) -> IncomingLocation:
    raw = {**example("location_example.json"), "id": location_id}
    return IncomingLocation(Location.model_validate(raw), raw)


def _stored_item(table: str, location_id: str) -> dict[str, Any]:
    item = aws.dynamodb().get_item(TableName=table, Key=store.location_key(location_id)).get("Item")
    assert item is not None
    return item


@pytest.mark.parametrize("codec", CODECS)
def test_a_location_written_in_either_form_reads_back_equal(aws_mock: dict[str, str], codec: str) -> None:
    table = aws_mock[topology.LOCATIONS_TABLE.env_var]
    incoming = _location("LOC-Z")
    LocationCache(table, codec).upsert([incoming])
    item = _stored_item(table, "LOC-Z")
    doc = item["doc"]["B"]
    assert _is_zstd(doc) == (codec == "zstd")
    # whatever wrote it, any cache reads it, tariffs inlined again
    for reader in CODECS:
        assert LocationCache(table, reader).get("LOC-Z") == incoming.raw
        assert LocationCache(table, reader).time_zone_of("LOC-Z") == incoming.raw["time_zone"]
    # the hashes are over the canonical bytes, never the compressed form: equal either way
    assert item["content_hash"]["S"] == store.canonical_hash(incoming.raw) == incoming.content_hash
    assert item["shape_hash"]["S"] == incoming.stored.shape_hash


def test_an_item_stored_before_zstd_still_reads(aws_mock: dict[str, str]) -> None:
    """The zlib forms earlier releases wrote: ``json.dumps`` at level 6, and the canonical bytes
    at level 1."""
    table = aws_mock[topology.LOCATIONS_TABLE.env_var]
    incoming = _location("LOC-OLD")
    LocationCache(table).upsert([incoming])
    doc = incoming.stored.doc
    for old in (zlib.compress(json.dumps(doc).encode(), 6), zlib.compress(incoming.stored.doc_bytes, 1)):
        aws.dynamodb().update_item(
            TableName=table,
            Key=store.location_key("LOC-OLD"),
            UpdateExpression="SET doc = :doc",
            ExpressionAttributeValues={":doc": {"B": old}},
        )
        assert LocationCache(table).get("LOC-OLD") == incoming.raw


def test_the_stored_content_hash_decides_unchanged_whatever_the_form(aws_mock: dict[str, str]) -> None:
    """A stack switched from zlib to zstd writes nothing for an unchanged location."""
    table = aws_mock[topology.LOCATIONS_TABLE.env_var]
    LocationCache(table, "zlib").upsert([_location("LOC-SW")])
    again = LocationCache(table, "zstd").upsert([_location("LOC-SW")])
    assert (again.unchanged, again.created, again.updated) == (1, [], [])
    assert not _is_zstd(_stored_item(table, "LOC-SW")["doc"]["B"])


@pytest.mark.parametrize(
    ("setting", "zstd"), [(None, True), ("zstd", True), ("zlib", False), ("ZLIB", False)]
)
def test_the_settings_variable_picks_the_pulls_writer(
    aws_mock: dict[str, str], setting: str | None, zstd: bool
) -> None:
    if setting is None:
        os.environ.pop("LOCATION_DOC_COMPRESSION", None)
    else:
        os.environ["LOCATION_DOC_COMPRESSION"] = setting
    config.reset()
    puller = LocationPuller.from_settings(config.settings())
    puller.cache.upsert([_location("LOC-ENV")])
    table = aws_mock[topology.LOCATIONS_TABLE.env_var]
    assert _is_zstd(_stored_item(table, "LOC-ENV")["doc"]["B"]) is zstd


# The outbox relay --------------------------------------------------------------------------------


def _stream_record(item: dict[str, Any]) -> dict[str, Any]:
    """The location item's INSERT as Lambda hands it over: binary attributes as base64 text."""
    image = {
        name: {"B": base64.b64encode(value["B"]).decode()} if "B" in value else value
        for name, value in item.items()
    }
    return {
        "eventName": "INSERT",
        "eventSourceARN": f"arn:aws:dynamodb:eu-central-1:123456789012:table/locs/stream/{STREAM}",
        "dynamodb": {
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": image,
            "SequenceNumber": "1",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def test_the_outbox_announces_a_zstd_location_as_it_announces_a_zlib_one() -> None:
    relay = OutboxRelay(
        tables={"locs": "locations"},
        events=None,  # type: ignore[arg-type]
        cdrs=None,  # type: ignore[arg-type]
        enricher=None,  # type: ignore[arg-type]
    )
    for raw in _page(5):
        encoded = store.encode(raw)
        events = {}
        for codec in CODECS:
            item = store.location_record(Location.model_validate(raw), encoded, codec)
            assert _is_zstd(item["doc"]["B"]) == (codec == "zstd")
            events[codec] = relay.translate(outbox.change_from_record(_stream_record(item)))
        assert events["zstd"] == events["zlib"]
        ((detail_type, detail),) = events["zstd"]
        assert detail_type == "LocationUpserted"
        assert (detail["location_id"], detail["name"]) == (raw["id"], raw.get("name"))
        assert detail["evse_statuses"] == {
            e["uid"]: e["status"] for e in raw["evses"] if e["status"] != "REMOVED"
        }
