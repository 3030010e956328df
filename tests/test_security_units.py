"""Tokens and scopes, the forget audit's model of compaction, and the topic configuration forget relies on."""
from __future__ import annotations

import base64
import json

import pytest

from streams.core.deadletters import dead_letter
from streams.core.privacy import COMPACTED, KEPT, RETAINED, TOMBSTONE, Record, audit_topic, is_compacted, names_user
from streams.errors import ImproperlyConfigured
from streams.runtime.httpauth import MIN_TOKEN_LENGTH, ROUTE_SCOPES, TokenTable, load_tokens, parse_tokens
from streams.runtime.kafka import changelog_topic, topic_configs
from streams.settings import Settings

A = "a" * MIN_TOKEN_LENGTH
B = "b" * 43


def test_tokens_parse_with_scopes_and_comments():
    tokens = parse_tokens(f"# who:scopes:token\nfront:read:{A}\n\nops:read, admin ,ingest:{B}", "file")
    assert [(t.name, sorted(t.scopes)) for t in tokens] == [("front", ["read"]), ("ops", ["admin", "ingest", "read"])]
    assert all(A not in repr(t) and B not in repr(t) for t in tokens), "only digests are kept"
    assert [t.name for t in parse_tokens(f"x:read:{A};y:ingest:{B}", "env")] == ["x", "y"]


@pytest.mark.parametrize("line, message", [
    (f"front:{A}", "name:scope"),
    (f"front:write:{A}", "scopes must be among read, ingest, admin"),
    (f"front::{A}", "scopes must be among"),
    ("front:read:short", f"at least {MIN_TOKEN_LENGTH} characters"),
    (f":read:{A}", "name:scope"),
])
def test_a_bad_token_entry_is_one_readable_error_without_the_secret(line, message):
    with pytest.raises(ImproperlyConfigured, match=message) as err:
        parse_tokens(line, "tokens.txt")
    assert "tokens.txt, entry 1" in str(err.value) and A not in str(err.value)


def test_tokens_come_from_the_file_and_the_setting(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"front:read:{A}\n")
    tokens = load_tokens(Settings(api_tokens_file=path, api_tokens=f"ops:admin:{B}"))
    assert {t.name for t in tokens} == {"front", "ops"}
    with pytest.raises(ImproperlyConfigured, match="cannot read STREAMREC_API_TOKENS_FILE"):
        load_tokens(Settings(api_tokens_file=tmp_path / "missing"))
    assert load_tokens(Settings()) == []


def test_lookup_finds_only_the_exact_token():
    table = TokenTable(parse_tokens(f"front:read:{A}\nops:admin:{B}", "t"))
    assert table.lookup(A).name == "front" and table.lookup(B).name == "ops"
    for guess in (A[:-1], A + "a", A.upper(), "", B[:-1] + "c"):
        assert table.lookup(guess) is None
    assert TokenTable([]).lookup(A) is None


def test_every_data_route_needs_a_scope_and_personal_data_needs_admin():
    assert ROUTE_SCOPES[("DELETE", "/users/{user_id}")] == "admin"
    assert ROUTE_SCOPES[("GET", "/users/{user_id}/profile")] == "admin"
    assert ROUTE_SCOPES[("POST", "/events")] == "ingest"
    assert {scope for scope in ROUTE_SCOPES.values()} == {"read", "ingest", "admin"}


def test_rates_are_checked_as_settings():
    Settings(http_rate_limit="100/second;3000/minute", http_auth_failure_limit="5/minute")
    with pytest.raises(ValueError, match="give a rate"):
        Settings(http_rate_limit="fast")


def test_configured_tokens_never_print():
    from streams.cli.config import run

    class Args:
        markdown = write = False

    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run(Args(), Settings(api_tokens=f"ops:admin:{B}"))
    assert B not in out.getvalue() and "STREAMREC_API_TOKENS=***" in out.getvalue()


# ---- forget: the topics' configuration and the audit's model of compaction ---------------------------------------

def test_user_keyed_topics_are_compacted_with_a_bounded_lag():
    settings = Settings(forget_within=3600, recommendations_retention=86400)
    configs = topic_configs(settings)
    lists = configs["recommendations"]
    assert is_compacted(lists) and "delete" in lists["cleanup.policy"]
    assert lists["max.compaction.lag.ms"] == "3600000" and lists["retention.ms"] == "86400000"
    profiles = configs[changelog_topic(settings, "profiles")]
    assert profiles == {"cleanup.policy": "compact", "max.compaction.lag.ms": "3600000"}
    assert changelog_topic(settings, "profiles") == "streamrec-profiles-changelog"
    assert "events" not in configs, "raw events are the shop's: their retention is the shop's"


def rec(offset, key, value, partition=0, topic="t"):
    if isinstance(value, (dict, list)):
        value = json.dumps(value).encode()
    return Record(topic, partition, offset, None if key is None else key.encode(), value)


def test_names_user_by_key_value_and_dead_letter():
    assert names_user(rec(0, "alice", {"x": 1}), "alice") == "key"
    assert names_user(rec(0, '"alice"', b"\x00binary"), "alice") == "key"  # a Faust table key (JSON)
    assert names_user(rec(0, "p1", {"items": [{"by": ["alice"]}]}), "alice") == "value"
    assert names_user(rec(0, "p1", {"user_id": "alice2"}), "alice") is None
    assert names_user(rec(0, "p1", b"\x01alice\x02"), "alice") == "value"  # not JSON: the bytes
    original = json.dumps({"user_id": "alice", "type": "teleport"}).encode()
    letter = dead_letter(source_topic="events", partition=0, offset=3, key=b"k", value=original, reason="bad_type",
                         detail="")
    assert names_user(rec(0, "k", letter), "alice") in ("value", "dead letter")
    assert base64.b64encode(original).decode() in letter.decode()


def test_compaction_keeps_only_each_keys_latest_record():
    records = [rec(0, "alice", {"user_id": "alice", "v": 1}), rec(1, "bob", {"user_id": "bob"}),
               rec(2, "alice", {"user_id": "alice", "v": 2}), rec(3, "alice", None)]
    forgotten = audit_topic("lists", records, "alice", compacted=True)
    assert [fate for _, _, fate in forgotten.found] == [COMPACTED, COMPACTED, TOMBSTONE]
    assert forgotten.count(KEPT) == 0
    live = audit_topic("lists", records[:3], "alice", compacted=True)
    assert [fate for _, _, fate in live.found] == [COMPACTED, KEPT]
    raw = audit_topic("events", records, "alice", compacted=False)
    assert raw.count(RETAINED) == 3 and raw.read == 4
