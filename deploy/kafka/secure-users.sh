#!/usr/bin/env bash
# SCRAM-SHA-512 credentials and ACLs for streamrec's principals, as the admin principal (idempotent).
# Run by the one-shot `kafka-users` service of docker-compose.secure.yml, after `topics`.
#
#   streamrec-worker   reads what a ranking worker reads; writes only what it writes (lists, vectors, signals,
#                      dead letters, and `events`: POST /events and forget control messages); its consumer group
#                      and its Faust internal topics (the tables' changelogs, the assignor's topic)
#   streamrec-encoder  reads `items`, writes `item-vectors` and dead letters (the GPU encoder)
#   streamrec-trainer  reads vectors and signal deltas, writes `streamrec-adapters`
#   shop               the shop's producer and reader: writes `items` and `events`, reads `recommendations`
# Every principal may describe the contract's topics (metadata, no data), so a starting worker sees that they exist.
set -euo pipefail
BOOTSTRAP="${BOOTSTRAP:-kafka-1:19092}"
APP_ID="${APP_ID:-streamrec}"
BIN=/opt/kafka/bin
printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="%s";\n' \
  "$ADMIN_PASSWORD" > /tmp/admin.properties
ADMIN=(--bootstrap-server "$BOOTSTRAP" --command-config /tmp/admin.properties)

user() {  # name password
  "$BIN/kafka-configs.sh" "${ADMIN[@]}" --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]"
}

allow() {  # principal operation resource-flags...
  local principal=$1 operation=$2
  shift 2
  "$BIN/kafka-acls.sh" "${ADMIN[@]}" --add --allow-principal "User:$principal" --operation "$operation" "$@" >/dev/null
}

CONTRACT=(items events recommendations streamrec-dead-letters item-vectors streamrec-signal-deltas streamrec-signals
          streamrec-adapters)

user streamrec-worker "$WORKER_PASSWORD"
user streamrec-encoder "$ENCODER_PASSWORD"
user streamrec-trainer "$TRAINER_PASSWORD"
user shop "$SHOP_PASSWORD"

for principal in streamrec-worker streamrec-encoder streamrec-trainer shop; do
  for topic in "${CONTRACT[@]}"; do
    allow "$principal" Describe --topic "$topic"
  done
done

# workers (role all / ranker)
for topic in events items item-vectors streamrec-signal-deltas streamrec-signals streamrec-adapters; do
  allow streamrec-worker Read --topic "$topic"
done
for topic in events recommendations streamrec-dead-letters item-vectors streamrec-signal-deltas streamrec-signals; do
  allow streamrec-worker Write --topic "$topic"
done
for topic in "$APP_ID-profiles-changelog" "$APP_ID-signal-rows-changelog" "$APP_ID-__assignor-__leader"; do
  for operation in Create Read Write Describe DescribeConfigs; do
    allow streamrec-worker "$operation" --topic "$topic"
  done
done
allow streamrec-worker Read --group "$APP_ID"

# the GPU encoder (its own group, streamrec-encoder)
allow streamrec-encoder Read --topic items
for topic in item-vectors streamrec-dead-letters; do
  allow streamrec-encoder Write --topic "$topic"
done
for operation in Create Read Write Describe DescribeConfigs; do
  allow streamrec-encoder "$operation" --topic "$APP_ID-encoder-" --resource-pattern-type prefixed
done
allow streamrec-encoder Read --group "$APP_ID-encoder"

# the adapter trainer (its own group, streamrec-trainer)
for topic in item-vectors streamrec-signal-deltas streamrec-adapters; do
  allow streamrec-trainer Read --topic "$topic"
done
for topic in streamrec-adapters streamrec-dead-letters; do
  allow streamrec-trainer Write --topic "$topic"
done
for operation in Create Read Write Describe DescribeConfigs; do
  allow streamrec-trainer "$operation" --topic "$APP_ID-trainer-" --resource-pattern-type prefixed
done
allow streamrec-trainer Read --group "$APP_ID-trainer"

# the shop
for topic in items events; do
  allow shop Write --topic "$topic"
done
allow shop Read --topic recommendations
allow shop Read --group shop- --resource-pattern-type prefixed

"$BIN/kafka-acls.sh" "${ADMIN[@]}" --list | grep -c 'principal=User:' | sed 's/^/ACL entries: /'
echo "users and ACLs ready"
