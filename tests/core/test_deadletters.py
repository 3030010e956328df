"""Dead letters: the exact bytes and the reason kept, one message whatever the size, read back, grouped, selected."""
import base64
import json

import pytest

from streams.core.deadletters import Letter, Selection, dead_letter, group_by_reason, parse_offset, selected


def test_dead_letter_keeps_the_exact_bytes_and_says_why():
    raw = b"\xff not utf-8"
    letter = json.loads(dead_letter(source_topic="events", partition=2, offset=7, key=b"u1", value=raw,
                                    reason="invalid_json", detail="bad byte"))
    assert letter["source_topic"] == "events" and (letter["partition"], letter["offset"]) == (2, 7)
    assert letter["reason"] == "invalid_json" and letter["detail"] == "bad byte" and letter["key"] == "u1"
    assert letter["value"] is None and base64.b64decode(letter["value_base64"]) == raw
    text = json.loads(dead_letter(source_topic="items", partition=0, offset=0, key=None, value=b'{"a": 1}',
                                  reason="missing_title"))
    assert text["value"] == '{"a": 1}' and text["key"] is None


def test_a_dead_letter_fits_in_one_message_however_large_the_refused_one():
    huge = b'{"item_id": "x", "title": "' + b"t" * 3_000_000 + b'"}'
    letter = json.loads(dead_letter(source_topic="items", partition=0, offset=1, key=b"x", value=huge,
                                    reason="too_long", detail="title has 3000000 characters"))
    assert len(json.dumps(letter)) < 1_000_000
    assert letter["truncated"] and letter["size"] == len(huge) and letter["value"] is None
    assert huge.startswith(base64.b64decode(letter["value_base64"]))


def _letter(offset, reason, value=b'{"x": 1}', partition=0, backfill=False):
    raw = dead_letter(source_topic="events", partition=partition, offset=offset, key=b"k", value=value,
                      reason=reason, detail="d", backfill=backfill)
    return Letter.from_message(f"dl@0:{offset}", b"k", raw)


def test_letters_round_trip_group_and_select():
    letters = [_letter(1, "bad_type"), _letter(2, "invalid_json", b"\x00\xff"), _letter(3, "bad_type", partition=2),
               _letter(4, "missing_ts", backfill=True)]
    assert letters[1].value == b"\x00\xff" and letters[3].backfill and letters[0].source == "events@0:1"
    assert list(group_by_reason(letters)) == ["bad_type", "invalid_json", "missing_ts"]
    assert selected(letters, Selection(reasons=frozenset({"bad_type"}))) == [letters[0], letters[2]]
    assert selected(letters, Selection(offsets=frozenset({parse_offset("2:3")}))) == [letters[2]]
    assert selected(letters, Selection(offsets=frozenset({parse_offset("3")}))) == [letters[2]]
    assert Letter.from_message("x", None, b'{"not": "a letter"}') is None
    assert Letter.from_message("x", None, b"\x00") is None
    for bad in ("x", "-1", "1:-2"):
        with pytest.raises(ValueError):
            parse_offset(bad)
