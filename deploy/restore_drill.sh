#!/usr/bin/env bash
# The restore drill: a backup restored into a scratch database, migrations checked, the ledger verified
# (`manage.py verify_ledger`), the scratch database dropped. Exit 0 only when the backup restores and its
# ledger is exact.
#   $1                  the backup (pg_dump custom format, deploy/backup.sh)
#   ADMIN_DATABASE_URL  a role that may create databases and write every row (restoring into tables that
#                       force row-level security): a superuser, or CREATEDB + BYPASSRLS. Default: postgres
#                       on DATABASE_URL's host.
#   DATABASE_URL        where the app role comes from: the drill runs verify_ledger as that role, as the app would.
set -euo pipefail
dump="${1:?usage: restore_drill.sh BACKUP.dump}"
test -r "$dump" || { echo "cannot read $dump" >&2; exit 2; }
app_url="${DATABASE_URL:?DATABASE_URL names the app role}"
py="${PY:-.venv/bin/python}"

read -r app_user app_password app_host app_port < <("$py" - "$app_url" <<'PY'
import sys
from urllib.parse import unquote, urlsplit
u = urlsplit(sys.argv[1])
print(unquote(u.username or ""), unquote(u.password or "") or "-", u.hostname or "127.0.0.1", u.port or 5432)
PY
)
admin_url="${ADMIN_DATABASE_URL:-postgres://postgres@$app_host:$app_port/postgres}"
scratch="p2p_restore_drill_$(date -u +%Y%m%d%H%M%S)_$$"
admin_base="${admin_url%/*}"

cleanup() { psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== scratch database $scratch (owner $app_user)"
psql "$admin_url" -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE $scratch OWNER $app_user"
echo "== restoring $dump"
# As the admin role: its COPY is not refused by the tables' forced row-level security; the tables keep the
# owner (the app role) and grants the backup names.
pg_restore --exit-on-error --dbname="$admin_base/$scratch" "$dump"

password_part=""
[ "$app_password" != "-" ] && password_part=":$app_password"
export DATABASE_URL="postgres://$app_user$password_part@$app_host:$app_port/$scratch"
# The drill's result is not production's: nothing goes to the live Redis (metrics, messages).
export REDIS_URL="" CELERY_BROKER_URL="" CELERY_TASK_ALWAYS_EAGER=true
echo "== migrations"
"$py" manage.py migrate --check --noinput >/dev/null || { echo "the backup lacks migrations the code has" >&2; exit 1; }
echo "== ledger"
"$py" manage.py verify_ledger
echo "restore drill passed: $dump restores and its ledger is exact"
