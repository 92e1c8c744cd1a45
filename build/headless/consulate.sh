#!/bin/sh
# The consulate command: the appliance's own Node runtime running the service.
# For the system user the data directory is /var/lib/consulate unless said otherwise,
# so `sudo -u consulate consulate init` prepares what the systemd unit serves.
set -e
if [ -z "${CONSULATE_DATA_DIR:-}" ] && [ "$(id -un 2>/dev/null)" = consulate ]; then
  CONSULATE_DATA_DIR=/var/lib/consulate
  export CONSULATE_DATA_DIR
fi
# CONSULATE_NODE_FLAGS: flags for the bundled Node and its V8, one per word, such as the
# small-memory profile "--max-semi-space-size=2 --heap-growing-percent=30" (docs/operations.md,
# Memory). Node refuses most V8 flags in NODE_OPTIONS, so they go on its command line here.
# shellcheck disable=SC2086 # split into words on purpose
exec /usr/lib/consulate/node/bin/node ${CONSULATE_NODE_FLAGS:-} /usr/lib/consulate/bin/consulate.js "$@"
