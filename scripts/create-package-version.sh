#!/usr/bin/env bash
# Creates an unlocked package version of force-app in a Dev Hub and prints its 04t id.
# Usage: scripts/create-package-version.sh <dev hub alias or username>
# The first run also creates the package itself; the CLI then records its 0Ho id under packageAliases in
# sfdx-project.json: commit that change.
source "$(dirname "$0")/sf-env.sh"
DEVHUB="${1:?usage: scripts/create-package-version.sh <dev hub alias or username>}"

if ! grep -q '"packageAliases"' sfdx-project.json; then
  "$SF" package create --name OptOutSync --package-type Unlocked --path force-app --no-namespace \
    --description "Keeps email opt-out in step between Salesforce and ActiveCampaign." --target-dev-hub "$DEVHUB"
fi

# --code-coverage runs the package's Apex tests; unlocked versions need 75% coverage to be promoted.
"$SF" package version create --package OptOutSync --installation-key-bypass --code-coverage --wait 60 \
  --target-dev-hub "$DEVHUB" --json > "${TMPDIR:-/tmp}/optout-sync-package-version.json"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (r.status !== 0) { console.error(r.message); process.exit(1); }
  console.log(r.result.SubscriberPackageVersionId);
' "${TMPDIR:-/tmp}/optout-sync-package-version.json"
# To release it: node_modules/.bin/sf package version promote --package <04t id> --target-dev-hub <dev hub>
