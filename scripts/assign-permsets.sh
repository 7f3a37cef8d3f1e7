#!/usr/bin/env bash
# Assigns the integration permission set to the middleware's user and the admin permission set to the admins.
# Usage: scripts/assign-permsets.sh <org> <integration username> [admin username ...]
source "$(dirname "$0")/sf-env.sh"
ORG="${1:?usage: scripts/assign-permsets.sh <org> <integration username> [admin username ...]}"
INTEGRATION_USER="${2:?integration username required}"
shift 2

"$SF" org assign permset --name OptOutSync_Integration --on-behalf-of "$INTEGRATION_USER" --target-org "$ORG"
if [ "$#" -gt 0 ]; then
  ADMINS=()
  for admin in "$@"; do ADMINS+=(--on-behalf-of "$admin"); done
  "$SF" org assign permset --name OptOutSync_Admin "${ADMINS[@]}" --target-org "$ORG"
else
  # No admin named: assign to the user the org alias logs in as.
  "$SF" org assign permset --name OptOutSync_Admin --target-org "$ORG"
fi
