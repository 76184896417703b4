#!/usr/bin/env bash
# Imports backlog's data views and saved searches into Kibana (8.x), for one env.
#   deploy/kibana/import.sh [--env dev] [--url http://127.0.0.1:5601] [--user elastic:password]
# Objects: data views logs-<env>-recent-*, logs-<env>-history-*, logs-<env>-dlq; saved searches
# "errors" (recent, history) and "dead letters". Ids are fixed, so a re-import overwrites, never duplicates.
set -euo pipefail
ENV=dev URL=${KIBANA_URL:-http://127.0.0.1:5601} AUTH=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env) ENV=$2; shift 2 ;;
    --url) URL=$2; shift 2 ;;
    --user) AUTH=(-u "$2"); shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 64 ;;
  esac
done
[[ "$ENV" =~ ^[a-z0-9][a-z0-9_-]{0,31}$ ]] || { echo "invalid env name: $ENV" >&2; exit 64; }
tmp=$(mktemp --suffix=.ndjson); trap 'rm -f "$tmp"' EXIT
sed "s/__ENV__/$ENV/g" "$(dirname "$0")/saved-objects.ndjson" > "$tmp"
# kbn-xsrf is required by Kibana's API for any write; overwrite=true makes the import idempotent.
curl -sS --fail-with-body "${AUTH[@]}" -X POST "$URL/api/saved_objects/_import?overwrite=true" -H 'kbn-xsrf: true' --form "file=@$tmp"
echo
