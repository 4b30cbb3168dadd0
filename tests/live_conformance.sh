#!/bin/sh
# live_conformance.sh CLOUD CONFORMANCE PLUGIN SRC_DIR
# The provider conformance suite against a real cloud account (not run in
# CI): skipped (77) unless BARISTA_LIVE_TESTS=1 and the account is named by
#   BARISTA_LIVE_<CLOUD>_CREDENTIALS  a JSON file of the credential fields
#                                     the driver reads (docs/driver-<cloud>.md)
#   BARISTA_LIVE_<CLOUD>_REGION       the region (required)
#   BARISTA_LIVE_<CLOUD>_CONFIG       the driver config as JSON (default {})
#   BARISTA_LIVE_<CLOUD>_FIXTURE      a fixture (default tests/data/<cloud>/fixture.json,
#                                     whose otherRegion must exist in the account)
# The run tags everything with its own lineage and its cleanup case deletes
# what it made, also after a failure; names start with cf-<run>- so that a
# killed run's leftovers can be found by hand.
set -eu
cloud=$1 conformance=$2 plugin=$3 src=$4
[ "${BARISTA_LIVE_TESTS:-}" = 1 ] || { echo "skipped: BARISTA_LIVE_TESTS is not 1"; exit 77; }
up=$(echo "$cloud" | tr '[:lower:]' '[:upper:]')
creds=$(printenv "BARISTA_LIVE_${up}_CREDENTIALS" || true)
region=$(printenv "BARISTA_LIVE_${up}_REGION" || true)
config=$(printenv "BARISTA_LIVE_${up}_CONFIG" || echo '{}')
fixture=$(printenv "BARISTA_LIVE_${up}_FIXTURE" || echo "$src/tests/data/$cloud/fixture.json")
if [ -z "$creds" ] || [ -z "$region" ]; then
  echo "skipped: set BARISTA_LIVE_${up}_CREDENTIALS and BARISTA_LIVE_${up}_REGION"
  exit 77
fi
# the real calls wait on their own: the config serves as the wait config
exec "$conformance" -live -timeout 3600 -credentials "$creds" -fixture "$fixture" \
  -wait-config "$config" "$plugin" "$config" "$region"
