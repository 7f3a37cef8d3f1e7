#!/usr/bin/env bash
# Prints the package's Apex test classes, one per line: every class under force-app with an @IsTest method.
# Deploys and test runs name exactly these (RunSpecifiedTests): RunLocalTests would also run every test of the
# customer's org, whose failures are not ours and would block the install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
grep -rlzE '@IsTest[[:space:]]+static void' --include='*.cls' "$ROOT/force-app" | xargs -n1 basename | sed 's/\.cls$//' |
  sort
