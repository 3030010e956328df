#!/usr/bin/env bash
# Create streamrec's topics on the compose Kafka (idempotent). Run by the one-shot `topics` service.
# REPLICATION (default 3) needs that many brokers; MIN_ISR (default 2) replicas must acknowledge a write.
set -euo pipefail
BOOTSTRAP="${BOOTSTRAP:-kafka-1:19092}"
PARTITIONS="${PARTITIONS:-12}"
REPLICATION="${REPLICATION:-3}"
MIN_ISR="${MIN_ISR:-2}"
APP_ID="${APP_ID:-streamrec}"
# a forgotten shopper's older lists and profile versions are compacted away within this (docs/guides/privacy.md)
FORGET_WITHIN_MS="${FORGET_WITHIN_MS:-86400000}"
LISTS_RETENTION_MS="${LISTS_RETENTION_MS:-604800000}"
KT=/opt/kafka/bin/kafka-topics.sh
# on the SASL cluster (docker-compose.secure.yml) the topics are created as the admin principal
AUTH=()
if [[ -n "${ADMIN_PASSWORD:-}" ]]; then
  printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="%s";\n' \
    "$ADMIN_PASSWORD" > /tmp/admin.properties
  AUTH=(--command-config /tmp/admin.properties)
fi

create() {  # name partitions [--config k=v ...]
  local name=$1 partitions=$2
  shift 2
  "$KT" --bootstrap-server "$BOOTSTRAP" "${AUTH[@]}" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$REPLICATION" --config "min.insync.replicas=$MIN_ISR" "$@"
}

# events and recommendations carry the traffic: spread them over every worker (and co-partition with
# the profiles table, whose partition count the workers take from STREAMREC_TOPIC_PARTITIONS)
create events "$PARTITIONS"
# lists are keyed by user: compacted (a forgotten user's tombstone removes their lists) and kept a week
create recommendations "$PARTITIONS" --config cleanup.policy=compact,delete --config "retention.ms=$LISTS_RETENTION_MS" \
  --config "max.compaction.lag.ms=$FORGET_WITHIN_MS"
# the profiles table's changelog (Faust's name): compacted, a forgotten user's old versions gone within the lag
create "$APP_ID-profiles-changelog" "$PARTITIONS" --config cleanup.policy=compact \
  --config "max.compaction.lag.ms=$FORGET_WITHIN_MS"
create "$APP_ID-signal-rows-changelog" "$PARTITIONS" --config cleanup.policy=compact
# signal deltas are keyed by item and folded by the aggregator that owns the item: co-partitioned with
# its signal-rows table, so the same count as the workers' STREAMREC_TOPIC_PARTITIONS
create streamrec-signal-deltas "$PARTITIONS"
# catalogue changes are rare next to events
create items 4
# every worker reads all of item-vectors and of the signal rows; compaction keeps the latest per item
create item-vectors 4 --config cleanup.policy=compact --config min.cleanable.dirty.ratio=0.1
create streamrec-signals 4 --config cleanup.policy=compact --config min.cleanable.dirty.ratio=0.1
# the trainer's published adapter versions (one key): every worker with STREAMREC_ADAPTER follows the latest
create streamrec-adapters 1 --config cleanup.policy=compact --config min.cleanable.dirty.ratio=0.1
# dead letters are kept two weeks for inspection and replay
create streamrec-dead-letters 4 --config retention.ms=1209600000

"$KT" --bootstrap-server "$BOOTSTRAP" "${AUTH[@]}" --describe \
  --topic 'events|recommendations|items|item-vectors|streamrec-dead-letters|streamrec-signal-deltas|streamrec-signals|streamrec-adapters' \
  | grep -E '^Topic:' || true
echo "topics ready"
