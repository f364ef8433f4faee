#!/usr/bin/env bash
# Installs (once) and starts the real Keystone (identity v3, on SQLite) and Neutron (networking
# v2.0, on the local MariaDB) for the OpenStack connector tests, following
# ../shared/peers/README.md. Prints the environment the tests read:
#   ROVIM_TEST_KEYSTONE_URL (v3 auth URL; user admin / password admin / project admin)
#   ROVIM_TEST_NEUTRON_AUTH_URL (a Neutron API that checks Keystone tokens, not in the catalog)
# Usage: eval "$(bash .ci/openstack.sh)"
set -euo pipefail
VENV="${HOME}/.cache/rovim/openstack-venv"
DIR="${ROVIM_OPENSTACK_DIR:-/tmp/rovim-openstack}"
KS_PORT="${ROVIM_KEYSTONE_PORT:-15000}"
NEUTRON_PORT="${ROVIM_NEUTRON_PORT:-19696}"
log() { echo "$*" >&2; }

if [ ! -x "${VENV}/bin/keystone-manage" ] || [ ! -x "${VENV}/bin/neutron-db-manage" ]; then
  log "installing keystone and neutron into ${VENV}"
  python3 -m venv "${VENV}"
  "${VENV}/bin/pip" install --quiet keystone neutron pymysql >&2
fi
mkdir -p "${DIR}"

# --- Keystone ---------------------------------------------------------------------------------
if ! curl -fsS "http://127.0.0.1:${KS_PORT}/v3" >/dev/null 2>&1; then
  rm -rf "${DIR}/keystone.db" "${DIR}"/fernet-* "${DIR}/credential-keys"
  cat > "${DIR}/keystone.conf" <<CONF
[database]
connection = sqlite:///${DIR}/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = ${DIR}/fernet-keys
[fernet_receipts]
key_repository = ${DIR}/fernet-receipts
[credential]
key_repository = ${DIR}/credential-keys
CONF
  KM=("${VENV}/bin/keystone-manage" --config-file "${DIR}/keystone.conf")
  "${KM[@]}" db_sync >&2
  "${KM[@]}" fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >&2
  "${KM[@]}" credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >&2
  "${KM[@]}" bootstrap --bootstrap-password admin --bootstrap-public-url "http://127.0.0.1:${KS_PORT}/v3/" \
    --bootstrap-region-id RegionOne >&2
  OS_KEYSTONE_CONFIG_FILES="${DIR}/keystone.conf" nohup "${VENV}/bin/python" -c "
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server
import keystone.server.wsgi as w
class S(ThreadingMixIn, WSGIServer): daemon_threads = True
make_server('127.0.0.1', ${KS_PORT}, w.initialize_public_application(), server_class=S).serve_forever()
" > "${DIR}/keystone.log" 2>&1 &
  for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:${KS_PORT}/v3" >/dev/null 2>&1 && break; sleep 1; done
  curl -fsS "http://127.0.0.1:${KS_PORT}/v3" >/dev/null || { log "keystone did not start"; tail -20 "${DIR}/keystone.log" >&2; exit 1; }
fi

# --- Neutron ----------------------------------------------------------------------------------
if ! curl -fsS "http://127.0.0.1:${NEUTRON_PORT}/" >/dev/null 2>&1; then
  mysql -uroot -h 127.0.0.1 -e "DROP DATABASE IF EXISTS neutron_rovim_${NEUTRON_PORT}; CREATE DATABASE neutron_rovim_${NEUTRON_PORT};
    CREATE USER IF NOT EXISTS 'neutron'@'localhost' IDENTIFIED BY 'neutron';
    CREATE USER IF NOT EXISTS 'neutron'@'127.0.0.1' IDENTIFIED BY 'neutron';
    GRANT ALL ON neutron_rovim_${NEUTRON_PORT}.* TO 'neutron'@'localhost'; GRANT ALL ON neutron_rovim_${NEUTRON_PORT}.* TO 'neutron'@'127.0.0.1';"
  cat > "${DIR}/neutron.conf" <<CONF
[DEFAULT]
core_plugin = ml2
service_plugins =
auth_strategy = noauth
transport_url = fake:/
api_paste_config = ${VENV}/etc/neutron/api-paste.ini
bind_host = 127.0.0.1
bind_port = ${NEUTRON_PORT}
[database]
connection = mysql+pymysql://neutron:neutron@127.0.0.1/neutron_rovim_${NEUTRON_PORT}
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers =
extension_drivers = port_security
[ml2_type_vlan]
network_vlan_ranges = physnet1:1000:2000
[ml2_type_vxlan]
vni_ranges = 1:1000
CONF
  "${VENV}/bin/neutron-db-manage" --config-file "${DIR}/neutron.conf" upgrade heads >&2
  # One request at a time: Neutron's API is meant for eventlet or uWSGI workers, not threads; a
  # burst of parallel requests on threads was seen refused as disallowed by policy.
  nohup "${VENV}/bin/python" -c "
import sys
sys.argv = ['neutron-api', '--config-file', '${DIR}/neutron.conf']
from wsgiref.simple_server import make_server
from neutron.wsgi import api
make_server('127.0.0.1', ${NEUTRON_PORT}, api.application).serve_forever()
" > "${DIR}/neutron.log" 2>&1 &
  for _ in $(seq 1 90); do curl -fsS "http://127.0.0.1:${NEUTRON_PORT}/" >/dev/null 2>&1 && break; sleep 1; done
  curl -fsS "http://127.0.0.1:${NEUTRON_PORT}/" >/dev/null || { log "neutron did not start"; tail -30 "${DIR}/neutron.log" >&2; exit 1; }
fi

# --- warm-up: Neutron loads its policy engine on the first requests; a first burst of requests
# from parallel tests was seen refused with "disallowed by policy". Make one work first.
for _ in $(seq 1 30); do
  NET=$(curl -sS -H 'content-type: application/json' "http://127.0.0.1:${NEUTRON_PORT}/v2.0/networks" \
    -d '{"network": {"name": "rovim-warmup", "project_id": "warmup"}}' \
    | "${VENV}/bin/python" -c 'import json,sys; print(json.load(sys.stdin).get("network", {}).get("id", ""))' 2>/dev/null || true)
  if [ -n "${NET}" ]; then
    curl -sS -X DELETE "http://127.0.0.1:${NEUTRON_PORT}/v2.0/networks/${NET}" >/dev/null
    break
  fi
  sleep 1
done
[ -n "${NET}" ] || { log "neutron refuses to create networks"; tail -30 "${DIR}/neutron.log" >&2; exit 1; }

# --- the network endpoint in Keystone's catalog --------------------------------------------------
TOKEN=$(curl -fsS -i -H 'content-type: application/json' "http://127.0.0.1:${KS_PORT}/v3/auth/tokens" -d '{"auth":
  {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"},
  "password": "admin"}}}, "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}' \
  | awk -F': ' 'tolower($1) == "x-subject-token" {print $2}' | tr -d '\r')
if ! curl -fsS -H "x-auth-token: ${TOKEN}" "http://127.0.0.1:${KS_PORT}/v3/services?type=network" | grep -q '"type": *"network"'; then
  SID=$(curl -fsS -H "x-auth-token: ${TOKEN}" -H 'content-type: application/json' "http://127.0.0.1:${KS_PORT}/v3/services" \
    -d '{"service": {"type": "network", "name": "neutron"}}' | "${VENV}/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["service"]["id"])')
  curl -fsS -H "x-auth-token: ${TOKEN}" -H 'content-type: application/json' "http://127.0.0.1:${KS_PORT}/v3/endpoints" \
    -d "{\"endpoint\": {\"service_id\": \"${SID}\", \"interface\": \"public\", \"region_id\": \"RegionOne\", \"url\": \"http://127.0.0.1:${NEUTRON_PORT}\"}}" >/dev/null
fi
# --- a second Neutron API behind Keystone auth (keystonemiddleware), on the same database ----------
# Tokens are validated by Keystone on every request (no cache), so a revoked or expired token is
# refused with 401: the connector's renewal and re-authentication paths run for real.
NEUTRON_AUTH_PORT="${ROVIM_NEUTRON_AUTH_PORT:-19697}"
if ! curl -fsS "http://127.0.0.1:${NEUTRON_AUTH_PORT}/" >/dev/null 2>&1; then
  sed -e "s/^auth_strategy = noauth/auth_strategy = keystone/" \
      -e "s/^bind_port = .*/bind_port = ${NEUTRON_AUTH_PORT}/" "${DIR}/neutron.conf" > "${DIR}/neutron-auth.conf"
  cat >> "${DIR}/neutron-auth.conf" <<CONF
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:${KS_PORT}/v3
auth_url = http://127.0.0.1:${KS_PORT}/v3
auth_type = password
username = admin
password = admin
project_name = admin
user_domain_name = Default
project_domain_name = Default
token_cache_time = -1
interface = public
CONF
  nohup "${VENV}/bin/python" -c "
import sys
sys.argv = ['neutron-api', '--config-file', '${DIR}/neutron-auth.conf']
from wsgiref.simple_server import make_server
from neutron.wsgi import api
make_server('127.0.0.1', ${NEUTRON_AUTH_PORT}, api.application).serve_forever()
" > "${DIR}/neutron-auth.log" 2>&1 &
  for _ in $(seq 1 90); do curl -sS -o /dev/null "http://127.0.0.1:${NEUTRON_AUTH_PORT}/" 2>/dev/null && break; sleep 1; done
fi
AUTH_STATUS=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:${NEUTRON_AUTH_PORT}/v2.0/networks" || true)
[ "${AUTH_STATUS}" = "401" ] || { log "neutron behind keystone auth answered ${AUTH_STATUS} without a token, not 401"; tail -30 "${DIR}/neutron-auth.log" >&2; exit 1; }

version() { "${VENV}/bin/pip" show "$1" 2>/dev/null | awk '/^Version/ {print $2}'; }
log "peers: keystone $(version keystone) (identity v3, SQLite) on :${KS_PORT}, neutron $(version neutron) (networking v2.0, $(mysql -uroot -h 127.0.0.1 -N -e 'select version()')) on :${NEUTRON_PORT}"
echo "export ROVIM_TEST_KEYSTONE_URL=http://127.0.0.1:${KS_PORT}/v3"
echo "export ROVIM_TEST_NEUTRON_AUTH_URL=http://127.0.0.1:${NEUTRON_AUTH_PORT}"
