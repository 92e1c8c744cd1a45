#!/bin/sh
# The consulate command: the appliance's own Node runtime running the service.
# For the system user the data directory is /var/lib/consulate unless said otherwise,
# so `sudo -u consulate consulate init` prepares what the systemd unit serves.
set -e
if [ -z "${CONSULATE_DATA_DIR:-}" ] && [ "$(id -un 2>/dev/null)" = consulate ]; then
  CONSULATE_DATA_DIR=/var/lib/consulate
  export CONSULATE_DATA_DIR
fi
exec /usr/lib/consulate/node/bin/node /usr/lib/consulate/bin/consulate.js "$@"
