# Sourced by the other scripts: the sf CLI installed with the project (it needs Node 22, which `npm ci` installs
# as node_modules/.bin/node), without telemetry or update checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/node_modules/.bin:$PATH"
export SF_DISABLE_TELEMETRY=true SF_AUTOUPDATE_DISABLE=true SF_HIDE_RELEASE_NOTES=true SF_SKIP_NEW_VERSION_CHECK=true
SF="$ROOT/node_modules/.bin/sf"
cd "$ROOT"
