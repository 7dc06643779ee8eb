#!/usr/bin/env bash
# A backup of the platform's database: `pg_dump` in its custom format (compressed, restorable table by table).
#   BACKUP_DATABASE_URL  a role that may read every row: the tables force row-level security, so the app
#                        role sees nothing without a tenant. Use a BYPASSRLS role made for backups
#                        (docs/operations.md, section Backups), or a superuser. Default: DATABASE_URL.
#   $1                   the file to write (default var/backups/p2p-<UTC time>.dump)
set -euo pipefail
url="${BACKUP_DATABASE_URL:-${DATABASE_URL:?set BACKUP_DATABASE_URL or DATABASE_URL}}"
out="${1:-var/backups/p2p-$(date -u +%Y%m%dT%H%M%SZ).dump}"
mkdir -p "$(dirname "$out")"
pg_dump --format=custom --file="$out" "$url"
echo "backup written: $out ($(du -h "$out" | cut -f1))"
