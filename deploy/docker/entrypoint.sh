#!/bin/sh
# Entry point of the streamrec images: `streamrec ARGS...` (default: worker).
#
# Faust answers GET /recommendations/{user_id} on the worker that owns the user's partition, reaching it
# by that worker's advertised host. Inside a container the web server binds 0.0.0.0
# (STREAMREC_WEB_HOST); streamrec then advertises the container's own address unless
# STREAMREC_ADVERTISED_HOST names another (streams/settings.py: Settings.advertised_web_host).
set -e
exec streamrec "$@"
