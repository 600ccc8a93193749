# Shared settings of the demo scripts (sourced, not run).
# OFFLOAD_DEMO_DIR: where the shared switch database and the dev TLS files live (default examples/basic/.offload).
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state="${OFFLOAD_DEMO_DIR:-$here/.offload}"
export OFFLOAD_TLS_DIR="${OFFLOAD_TLS_DIR:-$state/tls}"
mkdir -p "$state"
cd "$root"


# Both server windows may start at the same moment: create the dev CA under a lock so they share one.
prepare_tls() {
  flock "$state/tls.lock" node --import tsx examples/basic/prepare-tls.ts
}
