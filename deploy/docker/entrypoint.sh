#!/bin/sh
# Entry point of the streamrec images: `streamrec ARGS...` (default: worker).
#
# Faust answers GET /recommendations/{user_id} on the worker that owns the user's partition, reaching it
# by that worker's canonical URL. With STREAMREC_WEB_HOST=0.0.0.0 (needed to listen inside a container)
# every replica would advertise http://0.0.0.0:6066, believe it owns every key and answer from its own
# part of the profiles table. So advertise this container's own address unless one was given.
set -e
if [ -z "${NODE_CANONICAL_URL:-}" ]; then
  address=$(python -c 'import socket; print(socket.gethostbyname(socket.gethostname()))')
  NODE_CANONICAL_URL="http://${address}:${STREAMREC_WEB_PORT:-6066}"
  export NODE_CANONICAL_URL
fi
exec streamrec "$@"
