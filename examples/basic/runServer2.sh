#!/usr/bin/env bash
# Window 2 of the original demo: the statistics server (SessionStatisticsTable, 127.0.0.1:3444, TLS)
# over the same SQLite switch as runServer1.sh. Extra flags are passed on (e.g. --insecure).
set -euo pipefail
source "$(dirname "$0")/demo-env.sh"
prepare_tls
exec node --import tsx packages/reference-server/src/cli.ts \
  --services stats --stats-port "${STATS_PORT:-3444}" \
  --backend sqlite --db "$state/demo.db" \
  --traffic on --tcp-idle-timeout 20 --udp-idle-timeout 20 "$@"
