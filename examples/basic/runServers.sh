#!/usr/bin/env bash
# Both services in ONE process over the in-memory switch (sessions 127.0.0.1:3443, statistics :3444, TLS).
# Works without the shared SQLite switch; use it instead of runServer1.sh + runServer2.sh until that is wired.
set -euo pipefail
source "$(dirname "$0")/demo-env.sh"
prepare_tls
exec node --import tsx packages/reference-server/src/cli.ts \
  --sessions-port "${SESSIONS_PORT:-3443}" --stats-port "${STATS_PORT:-3444}" \
  --traffic on --tcp-idle-timeout 20 --udp-idle-timeout 20 "$@"
