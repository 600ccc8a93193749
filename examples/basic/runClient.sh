#!/usr/bin/env bash
# Window 3 of the original demo: the client. Trusts the servers' dev CA in .offload/tls.
# Flags are passed on: --sessions HOST:PORT, --stats HOST:PORT, --insecure, --closed-timeout SECS.
# (--no-deprecation hides Node's DEP0123 warning: grpc-js sends the IP target as TLS server name.)
set -euo pipefail
source "$(dirname "$0")/demo-env.sh"
exec node --no-deprecation --import tsx examples/basic/client.ts "$@"
