from datetime import UTC, datetime

import pytest

from roam_emp.ocpi.timestamps import format_timestamp, parse_timestamp

WANT = datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2015-06-29T20:39:09Z",
        "2015-06-29T20:39:09+00:00",
        "2015-06-29T20:39:09",
        "2015-06-29T22:39:09+02:00",
        "2015-06-29T20:39:09+0000",
        "2015-06-29t20:39:09z",
    ],
)
def test_zone_forms_are_utc(text: str) -> None:
    assert parse_timestamp(text) == WANT


def test_fractions_from_milliseconds_to_nanoseconds() -> None:
    assert parse_timestamp("2015-06-29T20:39:09.123Z").microsecond == 123000
    assert parse_timestamp("2015-06-29T20:39:09.123456Z").microsecond == 123456
    # Python keeps microseconds: nanoseconds are truncated, not rounded up into the next second.
    assert parse_timestamp("2015-06-29T20:39:09.999999999Z").microsecond == 999999


@pytest.mark.parametrize("text", ["yesterday", "2015-06-29", "2015-13-29T20:39:09Z", "", "2015-06-29T20:39"])
def test_unparseable_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_sent_in_utc_with_z_and_fits_string25() -> None:
    assert format_timestamp(WANT) == "2015-06-29T20:39:09Z"
    cet = parse_timestamp("2015-06-29T22:39:09.5+02:00")
    sent = format_timestamp(cet)
    assert sent == "2015-06-29T20:39:09.500Z"
    assert len(sent) <= 25
