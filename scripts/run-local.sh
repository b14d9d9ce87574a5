#!/usr/bin/env bash
# Start a local Prefect server (UI on 127.0.0.1:$1), the web forms, and serve every SQMS deployment.
# Stops the server when you press Ctrl-C.
set -euo pipefail
port="${1:-4200}"
cd "$(dirname "$0")/.."
mkdir -p var
export PREFECT_API_URL="http://127.0.0.1:${port}/api"
export PREFECT_UI_API_URL="${PREFECT_UI_API_URL:-$PREFECT_API_URL}"  # the API the UI in your browser calls
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
export PREFECT_HOME="${PREFECT_HOME:-$PWD/var/prefect}"

if curl -fsS "${PREFECT_API_URL}/health" >/dev/null 2>&1; then
  echo "Prefect server already running on port ${port}"
  server_pid=""
else
  echo "starting the Prefect server (log: var/prefect-server.log) ..."
  .venv/bin/prefect server start --host 127.0.0.1 --port "${port}" >var/prefect-server.log 2>&1 &
  server_pid=$!
  trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
  for _ in $(seq 1 120); do
    curl -fsS "${PREFECT_API_URL}/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { echo "the Prefect server did not start:"; tail -20 var/prefect-server.log; exit 1; }
    sleep 1
  done
fi
echo "starting the web forms (sqms web, log: var/web.log) ..."
.venv/bin/sqms web >var/web.log 2>&1 &
web_pid=$!
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; kill "$web_pid" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
echo
echo "  Prefect UI:   http://127.0.0.1:${port}"
echo "  web forms:    http://127.0.0.1:8000 (customer feedback links in the mails point here)"
echo "  workspace:    http://127.0.0.1:8000/app/ (sign in as a demo person, e.g. wang.fang@example.com;"
echo "                the sign-in link lands in var/outbox/*.eml)"
echo "  first report: PREFECT_API_URL=${PREFECT_API_URL} .venv/bin/prefect deployment run 'monthly-report/monthly'"
echo "                (or the Run button of monthly-report/monthly in the UI); mails land in var/outbox/*.eml"
echo
.venv/bin/sqms serve
