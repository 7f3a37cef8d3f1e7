#!/usr/bin/env bash
# Deploys force-app to an org (source deploy, for development and sandboxes) and runs the package's Apex tests.
# Usage: scripts/deploy.sh <org alias or username>
# Log in first with: node_modules/.bin/sf org login web --alias <alias> [--instance-url https://test.salesforce.com]
source "$(dirname "$0")/sf-env.sh"
ORG="${1:?usage: scripts/deploy.sh <org alias or username>}"

# RunSpecifiedTests with the package's own test classes: RunLocalTests would run every test of the org too.
TESTS=()
while read -r test_class; do TESTS+=(--tests "$test_class"); done < <("$ROOT/scripts/package-test-classes.sh")
"$SF" project deploy start --source-dir force-app --target-org "$ORG" --test-level RunSpecifiedTests "${TESTS[@]}" \
  --wait 30
