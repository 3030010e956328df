#!/usr/bin/env bash
# Create streamrec's topics on the compose Kafka (idempotent). Run by the one-shot `topics` service.
set -euo pipefail
BOOTSTRAP="${BOOTSTRAP:-kafka:19092}"
PARTITIONS="${PARTITIONS:-12}"
KT=/opt/kafka/bin/kafka-topics.sh

create() {  # name partitions [--config k=v ...]
  local name=$1 partitions=$2
  shift 2
  "$KT" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor 1 "$@"
}

# events and recommendations carry the traffic: spread them over every worker (and co-partition with
# the profiles table, whose partition count the workers take from STREAMREC_TOPIC_PARTITIONS)
create events "$PARTITIONS"
create recommendations "$PARTITIONS"
# catalogue changes are rare next to events
create items 4
# every worker reads all of item-vectors; compaction keeps the latest vector per item forever
create item-vectors 4 --config cleanup.policy=compact --config min.cleanable.dirty.ratio=0.1
# dead letters are kept two weeks for inspection and replay
create streamrec-dead-letters 4 --config retention.ms=1209600000

"$KT" --bootstrap-server "$BOOTSTRAP" --describe --topic 'events|recommendations|items|item-vectors|streamrec-dead-letters' \
  | grep -E '^Topic:' || true
echo "topics ready"
