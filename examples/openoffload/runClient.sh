#!/usr/bin/env bash
# The client window, second generation. Trusts the dev CA of the demo servers (examples/basic/.offload/tls)
# and of `npm start` (./.offload/tls), whichever exist; --ca FILE names another.
# Flags are passed on: --address HOST:PORT, --ca FILE, --insecure, --first-id N, --closed-timeout SECS.
set -euo pipefail
source "$(dirname "$0")/../basic/demo-env.sh"
exec node --import tsx examples/openoffload/client.ts "$@"
