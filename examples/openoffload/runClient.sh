#!/usr/bin/env bash
# The client window, second generation. Trusts the server's dev CA in examples/basic/.offload/tls.
# Flags are passed on: --address HOST:PORT, --insecure, --first-id N, --closed-timeout SECS.
# (--no-deprecation hides Node's DEP0123 warning: grpc-js sends the IP target as TLS server name.)
set -euo pipefail
source "$(dirname "$0")/../basic/demo-env.sh"
exec node --no-deprecation --import tsx examples/openoffload/client.ts "$@"
