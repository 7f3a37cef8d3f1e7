#!/usr/bin/env bash
# Installs a package version (04t id from create-package-version.sh) in an org, for admins only.
# Usage: scripts/install-package.sh <org alias or username> <04t package version id>
source "$(dirname "$0")/sf-env.sh"
ORG="${1:?usage: scripts/install-package.sh <org> <04t package version id>}"
VERSION="${2:?04t package version id required}"

"$SF" package install --package "$VERSION" --target-org "$ORG" --security-type AdminsOnly --wait 20 \
  --publish-wait 10 --no-prompt
