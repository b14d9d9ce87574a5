#!/usr/bin/env bash
# Nightly backup of both databases and the generated files. Usage: deploy/backup.sh /backups
set -euo pipefail
dest="${1:?backup folder}"; stamp=$(date +%Y%m%d-%H%M)
source /etc/sqms/sqms.env
mkdir -p "$dest"
pg_dump --format=custom --dbname="${SQMS_DATABASE_URL/+psycopg/}" --file="$dest/sqms-$stamp.dump"
source /etc/sqms/prefect-server.env
pg_dump --format=custom --dbname="${PREFECT_API_DATABASE_CONNECTION_URL/+asyncpg/}" --file="$dest/prefect-$stamp.dump"
tar -C "$(dirname "$SQMS_REPORTS_DIR")" -czf "$dest/files-$stamp.tar.gz" "$(basename "$SQMS_REPORTS_DIR")" \
    "$(basename "$SQMS_OUTBOX_DIR")"
echo "backed up to $dest (*-$stamp.*)"
