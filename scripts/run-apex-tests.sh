#!/usr/bin/env bash
# Runs the package's Apex tests in an org with code coverage (the org-side complement of the offline gates).
# Usage: scripts/run-apex-tests.sh <org alias or username>
source "$(dirname "$0")/sf-env.sh"
ORG="${1:?usage: scripts/run-apex-tests.sh <org alias or username>}"

# Only the package's test classes (RunSpecifiedTests): a customer's own failing tests are not ours to report.
TESTS=()
while read -r test_class; do TESTS+=(--class-names "$test_class"); done < <("$ROOT/scripts/package-test-classes.sh")
"$SF" apex run test --target-org "$ORG" --test-level RunSpecifiedTests "${TESTS[@]}" --code-coverage \
  --result-format human --wait 20
