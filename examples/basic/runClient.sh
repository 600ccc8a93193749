#!/usr/bin/env bash
# Window 3 of the original demo: the client. Trusts the dev CA of the demo servers (examples/basic/.offload/tls)
# and of `npm start` (./.offload/tls), whichever exist; --ca FILE names another.
# Flags are passed on: --sessions HOST:PORT, --stats HOST:PORT, --ca FILE, --insecure, --closed-timeout SECS.
set -euo pipefail
source "$(dirname "$0")/demo-env.sh"
exec node --import tsx examples/basic/client.ts "$@"
