"""Compose with authentication, checked without a Docker engine: the workers' HTTP tokens, and the secure Kafka
layer (SASL, an authorizer, per-principal ACLs) against the topics and settings streamrec really uses."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from streams.runtime.kafka import changelog_topic, faust_credentials, kafka_python_config, topic_configs
from streams.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SECURE = yaml.safe_load((REPO / "docker-compose.secure.yml").read_text())
USERS_SCRIPT = (REPO / "deploy" / "kafka" / "secure-users.sh").read_text()
TOPICS_SCRIPT = (REPO / "deploy" / "kafka" / "create-topics.sh").read_text()
SETTINGS = Settings()
# what a ranking worker (role all) writes: lists, vectors (role all embeds), signal deltas and rows, dead letters,
# and events (POST /events, forget control messages)
WORKER_WRITES = {SETTINGS.topic_recommendations, SETTINGS.topic_item_vectors, SETTINGS.topic_signal_deltas,
                 SETTINGS.topic_signals, SETTINGS.topic_dead_letters, SETTINGS.topic_events}


def acls(principal: str, operation: str) -> set[str]:
    """Literal topics the script grants ``operation`` on to ``principal`` (its for-loops expanded)."""
    granted = set()
    for match in re.finditer(r"^for topic in ([^;]+); do\n((?:  .*\n)+?)done", USERS_SCRIPT, re.M):
        words, body = match.group(1).split(), match.group(2)
        inner = re.search(r"for operation in ([^;]+); do", body)
        if re.search(rf'allow {re.escape(principal)} {operation} --topic "\$topic"', body) or (
                inner and operation in inner.group(1).split()
                and re.search(rf'allow {re.escape(principal)} "\$operation" --topic "\$topic"', body)):
            granted |= {w.strip('"').replace("$APP_ID", "streamrec") for w in words}
    for match in re.finditer(rf"^allow {re.escape(principal)} {operation} --topic (\S+)$", USERS_SCRIPT, re.M):
        granted.add(match.group(1).strip('"'))
    return granted


def test_every_worker_container_reads_its_http_tokens_from_a_secret():
    env = BASE["x-streamrec-env"]
    assert env["STREAMREC_API_TOKENS_FILE"] == "/run/secrets/streamrec-api-tokens"
    assert "STREAMREC_API_TOKENS" not in env, "tokens never sit in the environment"
    for name in ("worker", "encoder-gpu", "trainer"):
        assert BASE["services"][name]["secrets"] == ["streamrec-api-tokens"], name
    assert BASE["secrets"]["streamrec-api-tokens"]["file"].endswith(":-./secrets/api-tokens}")
    assert "secrets/" in (REPO / ".gitignore").read_text().split()
    assert "secrets" in (REPO / ".dockerignore").read_text().split()


def test_the_documented_token_line_is_one_a_worker_accepts():
    from streams.runtime.httpauth import parse_tokens

    line = re.search(r'echo "(ops:[^$]+)\$\(openssl rand -hex 32\)"', (REPO / "docker-compose.yml").read_text())
    [token] = parse_tokens(line.group(1) + "f" * 64, "compose")  # openssl rand -hex 32: 64 hex digits
    assert token.scopes == {"read", "ingest", "admin"}


def test_secure_layer_overrides_only_services_that_exist_and_uses_real_settings():
    for name, service in SECURE["services"].items():
        assert name in BASE["services"] or name == "kafka-users", name
        for variable in service.get("environment") or {}:
            if variable.startswith("STREAMREC_"):
                assert variable.removeprefix("STREAMREC_").lower() in Settings.model_fields, (name, variable)
    worker = SECURE["services"]["worker"]["environment"]
    settings = Settings(security_protocol=worker["STREAMREC_SECURITY_PROTOCOL"],
                        sasl_mechanism=worker["STREAMREC_SASL_MECHANISM"], sasl_username="streamrec-worker",
                        sasl_password="x", data_dir=REPO / "var" / "unused")
    assert kafka_python_config(settings)["sasl_mechanism"] == "SCRAM-SHA-512"
    assert faust_credentials(settings).mechanism.value == "SCRAM-SHA-512"
    assert SECURE["services"]["worker"]["depends_on"]["kafka-users"]["condition"] == "service_completed_successfully"
    mount = SECURE["services"]["kafka-users"]["volumes"][0].split(":")
    assert (REPO / mount[0]).is_file() and SECURE["services"]["kafka-users"]["entrypoint"][-1] == mount[1]


def test_brokers_authenticate_every_listener_and_authorize_every_request():
    env = SECURE["x-kafka-secure-env"]
    listeners = dict(part.split(":") for part in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    base = BASE["x-kafka"]["environment"]
    assert set(listeners) == {p.split(":")[0] for p in base["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    assert set(listeners.values()) == {"SASL_PLAINTEXT"}
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false" and env["KAFKA_SUPER_USERS"] == "User:admin"
    for listener in listeners:  # each listener has a login for each mechanism clients use on it
        assert f"KAFKA_LISTENER_NAME_{listener}_PLAIN_SASL_JAAS_CONFIG" in env
    for listener in ("INTERNAL", "EXTERNAL"):
        assert f"KAFKA_LISTENER_NAME_{listener}_SCRAM___SHA___512_SASL_JAAS_CONFIG" in env
    for node in ("kafka-1", "kafka-2", "kafka-3"):
        assert "--command-config" in SECURE["services"][node]["healthcheck"]["test"][1]


def test_each_principal_has_credentials_and_the_worker_writes_only_its_topics():
    for principal in ("streamrec-worker", "streamrec-encoder", "streamrec-trainer", "shop"):
        assert re.search(rf"^user {principal} ", USERS_SCRIPT, re.M), principal
    assert acls("streamrec-worker", "Write") == WORKER_WRITES | {
        changelog_topic(SETTINGS, "profiles"), changelog_topic(SETTINGS, "signal-rows"), "streamrec-__assignor-__leader"}
    assert SETTINGS.topic_items not in acls("streamrec-worker", "Write"), "the catalogue is the shop's"
    assert acls("streamrec-worker", "Read") >= {SETTINGS.topic_events, SETTINGS.topic_items, SETTINGS.topic_item_vectors,
                                                SETTINGS.topic_signals, SETTINGS.topic_signal_deltas}
    assert acls("shop", "Write") == {SETTINGS.topic_items, SETTINGS.topic_events}
    assert acls("shop", "Read") == {SETTINGS.topic_recommendations}
    assert acls("streamrec-trainer", "Write") == {SETTINGS.topic_adapters, SETTINGS.topic_dead_letters}
    assert acls("streamrec-encoder", "Write") == {SETTINGS.topic_item_vectors, SETTINGS.topic_dead_letters}
    assert re.search(r'^allow streamrec-worker Read --group "\$APP_ID"$', USERS_SCRIPT, re.M)
    # every ACL'd contract topic is one the topic script creates
    created = set(re.findall(r"^create (\S+) ", TOPICS_SCRIPT, re.M))
    for principal in ("streamrec-worker", "shop", "streamrec-trainer", "streamrec-encoder"):
        for operation in ("Read", "Write"):
            for topic in acls(principal, operation):
                assert topic in created or topic.replace("streamrec-", '"$APP_ID-', 1) + '"' in created \
                    or topic.endswith("__leader"), (principal, topic)


def test_topic_script_compacts_the_user_keyed_topics_like_the_worker_does():
    configs = topic_configs(SETTINGS)
    lists = re.search(r"^create recommendations .*(?:\n  .*)*", TOPICS_SCRIPT, re.M).group(0)
    assert "cleanup.policy=compact,delete" in lists and "max.compaction.lag.ms=$FORGET_WITHIN_MS" in lists
    assert re.search(r"^FORGET_WITHIN_MS=\"\$\{FORGET_WITHIN_MS:-(\d+)\}\"", TOPICS_SCRIPT, re.M).group(1) == \
        configs["recommendations"]["max.compaction.lag.ms"]
    profiles = re.search(r'^create "\$APP_ID-profiles-changelog" .*(?:\n  .*)*', TOPICS_SCRIPT, re.M).group(0)
    assert "cleanup.policy=compact" in profiles and "max.compaction.lag.ms" in profiles


@pytest.mark.parametrize("script", ["deploy/kafka/secure-users.sh", "deploy/kafka/create-topics.sh"])
def test_scripts_are_valid_bash(script):
    result = subprocess.run(["bash", "-n", str(REPO / script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
