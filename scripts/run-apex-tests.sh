#!/usr/bin/env bash
# Runs the package's Apex tests in an org with code coverage (the org-side complement of the offline gates).
# Usage: scripts/run-apex-tests.sh <org alias or username>
source "$(dirname "$0")/sf-env.sh"
ORG="${1:?usage: scripts/run-apex-tests.sh <org alias or username>}"

"$SF" apex run test --target-org "$ORG" --test-level RunLocalTests --code-coverage --result-format human --wait 20
