#!/usr/bin/env bash
# Security scans of one image, run by tests/run.sh here and by the release workflow:
#   docker/scan.sh IMAGE_REF [--vulns]
# Always: Trivy's secret scanner (works offline) must find nothing. With --vulns (the workflow,
# which has Trivy's vulnerability database): HIGH and CRITICAL findings fail, except unfixed ones
# (--ignore-unfixed: base-image CVEs without a released fix; see docker/README.md, "Scanning").
set -euo pipefail
image="$1"
trivy=${TRIVY:-trivy}
cache="${TRIVY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dimtensor-up/trivy}"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$trivy" image --quiet --cache-dir "$cache" --scanners secret --skip-db-update --offline-scan \
  --format json --output "$report" "$image"
secrets=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sum(len(x.get('Secrets') or []) for x in r.get('Results') or []))" "$report")
if [ "$secrets" != 0 ]; then
  echo "FAIL: Trivy found $secrets secret(s) in $image:" >&2
  python3 -c "import json,sys; [print('  ', x['Target'], s['RuleID'], s['Title']) for x in json.load(open(sys.argv[1])).get('Results') or [] for s in x.get('Secrets') or []]" "$report" >&2
  exit 1
fi
echo "scan: $image: no secrets"
if [ "${2:-}" = "--vulns" ]; then
  "$trivy" image --quiet --cache-dir "$cache" --scanners vuln --severity HIGH,CRITICAL \
    --ignore-unfixed --exit-code 1 "$image"
  echo "scan: $image: no fixable HIGH/CRITICAL vulnerabilities"
fi
