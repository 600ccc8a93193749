#!/usr/bin/env bash
# The server window: the reference server over the in-memory switch with its traffic model, TLS on
# 127.0.0.1:3443 (sessions.v1 and openoffload.v1 SessionTable) and :3444 (statistics). Extra flags are passed on.
set -euo pipefail
source "$(dirname "$0")/../basic/demo-env.sh"
prepare_tls
exec node --import tsx packages/reference-server/src/cli.ts \
  --sessions-port "${SESSIONS_PORT:-3443}" --stats-port "${STATS_PORT:-3444}" \
  --traffic on --tcp-idle-timeout 20 --udp-idle-timeout 20 "$@"
