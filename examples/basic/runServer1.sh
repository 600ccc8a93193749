#!/usr/bin/env bash
# Window 1 of the original demo: the sessions server (SessionTable, 127.0.0.1:3443, TLS)
# over the shared SQLite switch in .offload/demo.db. Extra flags are passed on (e.g. --insecure).
set -euo pipefail
source "$(dirname "$0")/demo-env.sh"
prepare_tls
exec node --import tsx packages/reference-server/src/cli.ts \
  --services sessions --sessions-port "${SESSIONS_PORT:-3443}" \
  --backend sqlite --db "$state/demo.db" \
  --traffic on --tcp-idle-timeout 20 --udp-idle-timeout 20 "$@"
