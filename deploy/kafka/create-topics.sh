#!/usr/bin/env bash
# Create streamrec's topics on the compose Kafka (idempotent). Run by the one-shot `topics` service.
# REPLICATION (default 3) needs that many brokers; MIN_ISR (default 2) replicas must acknowledge a write.
set -euo pipefail
BOOTSTRAP="${BOOTSTRAP:-kafka-1:19092}"
PARTITIONS="${PARTITIONS:-12}"
REPLICATION="${REPLICATION:-3}"
MIN_ISR="${MIN_ISR:-2}"
KT=/opt/kafka/bin/kafka-topics.sh

create() {  # name partitions [--config k=v ...]
  local name=$1 partitions=$2
  shift 2
  "$KT" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor "$REPLICATION" --config "min.insync.replicas=$MIN_ISR" "$@"
}

# events and recommendations carry the traffic: spread them over every worker (and co-partition with
# the profiles table, whose partition count the workers take from STREAMREC_TOPIC_PARTITIONS)
create events "$PARTITIONS"
create recommendations "$PARTITIONS"
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

"$KT" --bootstrap-server "$BOOTSTRAP" --describe \
  --topic 'events|recommendations|items|item-vectors|streamrec-dead-letters|streamrec-signal-deltas|streamrec-signals|streamrec-adapters' \
  | grep -E '^Topic:' || true
echo "topics ready"
