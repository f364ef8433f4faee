#!/usr/bin/env bash
# Installs (once) and starts a real Nova next to the Keystone and Neutron of .ci/openstack.sh (run
# that first): the Placement API and Glance (WSGI), nova-conductor, nova-scheduler, one
# nova-compute on Nova's fake virt driver with fake SR-IOV devices (FakeDriverWithPciResources)
# and the compute API (WSGI), on the local MariaDB and RabbitMQ (guest/guest). Ports are bound by
# a third Neutron API on the same database whose mechanism driver binds every port, without an
# agent (see below).
# Reuses what already runs; otherwise starts everything afresh (new databases).
# Prints the environment the tests read:
#   ROVIM_TEST_NOVA_URL     the compute endpoint (also in Keystone's catalog as `compute`)
#   ROVIM_TEST_NOVA_FLAVOR  a flavor id (1 vCPU, 64 MB)     ROVIM_TEST_NOVA_IMAGE  an image id
#   ROVIM_TEST_NOVA_HUGE_FLAVOR  a flavor no host can take (4096 vCPUs): a build that fails
#   ROVIM_TEST_NOVA_QUOTA_PROJECT  a project (admin is its admin) whose quota allows no server
# Usage: eval "$(bash .ci/nova.sh)"
set -euo pipefail
VENV="${HOME}/.cache/rovim/nova-venv"
OS_VENV="${HOME}/.cache/rovim/openstack-venv"
DIR="${ROVIM_NOVA_DIR:-/tmp/rovim-nova}"
KS_PORT="${ROVIM_KEYSTONE_PORT:-15000}"
NOVA_PORT=18774
PLACEMENT_PORT=18778
GLANCE_PORT=19292
NEUTRON_NOVA_PORT=19698
NEUTRON_CONF="${ROVIM_OPENSTACK_DIR:-/tmp/rovim-openstack}/neutron-auth.conf"
HOST=compute-0
DB="mysql+pymysql://nova:nova@127.0.0.1"
log() { echo "$*" >&2; }
up() { curl -sS -o /dev/null "$1" 2>/dev/null; }

[ -f "${NEUTRON_CONF}" ] || { log "run .ci/openstack.sh first (no ${NEUTRON_CONF})"; exit 1; }
if [ ! -x "${VENV}/bin/nova-manage" ] || [ ! -x "${VENV}/bin/placement-manage" ] || [ ! -x "${VENV}/bin/glance-manage" ]; then
  log "installing nova, placement and glance into ${VENV}"
  python3 -m venv "${VENV}"
  "${VENV}/bin/pip" install --quiet nova openstack-placement glance pymysql >&2
fi
mkdir -p "${DIR}"

KS="http://127.0.0.1:${KS_PORT}/v3"
NM=("${VENV}/bin/nova-manage" --config-file "${DIR}/nova.conf")

running() { [ -f "${DIR}/$1.pid" ] && kill -0 "$(cat "${DIR}/$1.pid")" 2>/dev/null; }
all_up() {
  for s in placement glance neutron-nova conductor scheduler compute api; do running "$s" || return 1; done
  up "http://127.0.0.1:${NOVA_PORT}/"
}

if ! all_up; then
  log "starting nova (placement, glance, conductor, scheduler, compute, api) in ${DIR}"
  for f in "${DIR}"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  sleep 1
  rm -rf "${DIR:?}"/* && mkdir -p "${DIR}/images" "${DIR}/staging" "${DIR}/tasks" "${DIR}/state" "${DIR}/locks"
  mysql -uroot -h 127.0.0.1 -e "
    CREATE USER IF NOT EXISTS 'nova'@'localhost' IDENTIFIED BY 'nova';
    CREATE USER IF NOT EXISTS 'nova'@'127.0.0.1' IDENTIFIED BY 'nova';
    $(for d in nova_api nova nova_cell0 placement glance; do
        echo "DROP DATABASE IF EXISTS ${d}; CREATE DATABASE ${d};
              GRANT ALL ON ${d}.* TO 'nova'@'localhost'; GRANT ALL ON ${d}.* TO 'nova'@'127.0.0.1';"
      done)"

  # --- Placement --------------------------------------------------------------------------------
  mkdir -p "${DIR}/placement"
  cat > "${DIR}/placement/placement.conf" <<CONF
[api]
auth_strategy = noauth2
[placement_database]
connection = ${DB}/placement
CONF
  "${VENV}/bin/placement-manage" --config-file "${DIR}/placement/placement.conf" db sync >&2
  OS_PLACEMENT_CONFIG_DIR="${DIR}/placement" nohup "${VENV}/bin/python" -c "
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server
import placement.wsgi as w
class S(ThreadingMixIn, WSGIServer): daemon_threads = True
make_server('127.0.0.1', ${PLACEMENT_PORT}, w.init_application(), server_class=S).serve_forever()
" > "${DIR}/placement.log" 2>&1 &
  echo $! > "${DIR}/placement.pid"

  # --- Glance (images on files; no authentication: Nova reaches it by endpoint_override) ---------
  mkdir -p "${DIR}/glance"
  cp "${VENV}/etc/glance/glance-api-paste.ini" "${DIR}/glance/"
  cat > "${DIR}/glance/glance-api.conf" <<CONF
[DEFAULT]
enabled_backends = fs:file
[database]
connection = ${DB}/glance
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = ${DIR}/images
[os_glance_staging_store]
filesystem_store_datadir = ${DIR}/staging
[os_glance_tasks_store]
filesystem_store_datadir = ${DIR}/tasks
[paste_deploy]
flavor =
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
CONF
  "${VENV}/bin/glance-manage" --config-file "${DIR}/glance/glance-api.conf" db_sync >&2
  OS_GLANCE_CONFIG_DIR="${DIR}/glance" nohup "${VENV}/bin/python" -c "
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server
from glance.common import wsgi_app
class S(ThreadingMixIn, WSGIServer): daemon_threads = True
make_server('127.0.0.1', ${GLANCE_PORT}, wsgi_app.init_app(), server_class=S).serve_forever()
" > "${DIR}/glance.log" 2>&1 &
  echo $! > "${DIR}/glance.pid"

  # --- the Neutron API Nova binds ports through --------------------------------------------------
  # Neutron's own test mechanism driver asserts unit-test call orders that Nova's updates break
  # (its bind_port fails on a port updated after its creation), so a ten-line driver binds every
  # port without an agent or a data plane: `ovs` for normal ports, `hw_veb` (with the segment's
  # VLAN) for direct ones, `hostdev_physical` for direct-physical ones. It is found by its entry
  # point, from a dist-info beside it.
  mkdir -p "${DIR}/neutron-bind/rovim_neutron_bind-1.0.dist-info"
  printf 'Metadata-Version: 2.1\nName: rovim-neutron-bind\nVersion: 1.0\n' \
    > "${DIR}/neutron-bind/rovim_neutron_bind-1.0.dist-info/METADATA"
  printf '[neutron.ml2.mechanism_drivers]\nrovim_bind = rovim_neutron_bind:BindAll\n' \
    > "${DIR}/neutron-bind/rovim_neutron_bind-1.0.dist-info/entry_points.txt"
  cat > "${DIR}/neutron-bind/rovim_neutron_bind.py" <<'PY'
from neutron_lib import constants
from neutron_lib.api.definitions import portbindings as pb
from neutron_lib.plugins.ml2 import api

VIF = {pb.VNIC_NORMAL: pb.VIF_TYPE_OVS, pb.VNIC_DIRECT: pb.VIF_TYPE_HW_VEB,
       pb.VNIC_DIRECT_PHYSICAL: pb.VIF_TYPE_HOSTDEV_PHY}


class BindAll(api.MechanismDriver):
    def initialize(self):
        pass

    def bind_port(self, context):
        segment = context.segments_to_bind[0]
        vif = VIF.get(context.current.get(pb.VNIC_TYPE), pb.VIF_TYPE_OVS)
        details = {pb.CAP_PORT_FILTER: False}
        if vif != pb.VIF_TYPE_OVS and segment.get(api.SEGMENTATION_ID):
            details[pb.VIF_DETAILS_VLAN] = str(segment[api.SEGMENTATION_ID])
        context.set_binding(segment[api.ID], vif, details, status=constants.PORT_STATUS_ACTIVE)
PY
  sed -e "s/^bind_port = .*/bind_port = ${NEUTRON_NOVA_PORT}/" \
      -e "s/^mechanism_drivers =.*/mechanism_drivers = rovim_bind/" \
      -e "s/^token_cache_time = .*/token_cache_time = 300/" "${NEUTRON_CONF}" > "${DIR}/neutron-nova.conf"
  # Nova calls Neutron a dozen times per server, each with two tokens: they are checked with
  # Keystone once, not at every call (the other Neutron APIs check every time, on purpose).
  sed -i -e "s/^\[DEFAULT\]/[DEFAULT]\nnotify_nova_on_port_status_changes = false\nnotify_nova_on_port_data_changes = false/" \
    "${DIR}/neutron-nova.conf"
  PYTHONPATH="${DIR}/neutron-bind" nohup "${OS_VENV}/bin/python" -c "
import sys
sys.argv = ['neutron-api', '--config-file', '${DIR}/neutron-nova.conf']
from wsgiref.simple_server import make_server
from neutron.wsgi import api
make_server('127.0.0.1', ${NEUTRON_NOVA_PORT}, api.application).serve_forever()
" > "${DIR}/neutron-nova.log" 2>&1 &
  echo $! > "${DIR}/neutron-nova.pid"

  # --- Nova ---------------------------------------------------------------------------------------
  cp "${VENV}/etc/nova/api-paste.ini" "${DIR}/"
  cat > "${DIR}/nova.conf" <<CONF
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:5672/
compute_driver = rovim_fake_pci.Driver
host = ${HOST}
my_ip = 127.0.0.1
state_path = ${DIR}/state
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
initial_cpu_allocation_ratio = 64
initial_ram_allocation_ratio = 16
[api]
auth_strategy = keystone
[api_database]
connection = ${DB}/nova_api
[database]
connection = ${DB}/nova
[keystone_authtoken]
www_authenticate_uri = ${KS}
auth_url = ${KS}
auth_type = password
username = admin
password = admin
project_name = admin
user_domain_name = Default
project_domain_name = Default
interface = public
[placement]
auth_type = admin_token
endpoint = http://127.0.0.1:${PLACEMENT_PORT}
token = admin
[glance]
endpoint_override = http://127.0.0.1:${GLANCE_PORT}
[neutron]
auth_type = password
auth_url = ${KS}
username = admin
password = admin
project_name = admin
user_domain_name = Default
project_domain_name = Default
endpoint_override = http://127.0.0.1:${NEUTRON_NOVA_PORT}
[pci]
device_spec = {"address": {"domain": "0000", "bus": "0[1-3]", "slot": "00", "function": ".*"}, "physical_network": "physnet1"}
[scheduler]
discover_hosts_in_cells_interval = 2
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
[oslo_messaging_notifications]
driver = noop
[oslo_concurrency]
lock_path = ${DIR}/locks
CONF
  "${NM[@]}" api_db sync >&2
  "${NM[@]}" cell_v2 map_cell0 >&2
  "${NM[@]}" cell_v2 create_cell --name cell1 >&2 || true
  "${NM[@]}" db sync >&2
  # Nova's fake driver with SR-IOV devices reports vendor ids such as "fake-vendor_id", which
  # MariaDB refuses (the column holds the 4 hex digits of real devices): give it real-looking ids.
  cat > "${DIR}/rovim_fake_pci.py" <<'PY'
from oslo_serialization import jsonutils
from nova.virt import fake


class Driver(fake.FakeDriverWithPciResources):
    """Three PFs with one VF each (physnet1), with PCI ids that fit Nova's database columns."""

    def get_available_resource(self, nodename):
        status = super().get_available_resource(nodename)
        devices = jsonutils.loads(status["pci_passthrough_devices"])
        for d in devices:
            d["vendor_id"] = "8086"
            d["product_id"] = "154c" if d["dev_type"] == "type-VF" else "1572"
        status["pci_passthrough_devices"] = jsonutils.dumps(devices)
        return status
PY
  for s in conductor scheduler; do
    nohup "${VENV}/bin/nova-${s}" --config-file "${DIR}/nova.conf" > "${DIR}/${s}.log" 2>&1 &
    echo $! > "${DIR}/${s}.pid"
  done
  # Nova loads drivers from nova.virt only: the shim is registered there before the service starts.
  PYTHONPATH="${DIR}" nohup "${VENV}/bin/python" -c "
import sys
from nova.cmd.compute import main
import rovim_fake_pci
sys.modules['nova.virt.rovim_fake_pci'] = rovim_fake_pci
sys.argv = ['nova-compute', '--config-file', '${DIR}/nova.conf']
main()
" > "${DIR}/compute.log" 2>&1 &
  echo $! > "${DIR}/compute.pid"
  OS_NOVA_CONFIG_DIR="${DIR}" OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf" nohup "${VENV}/bin/python" -c "
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server
from nova.wsgi import osapi_compute as w
class S(ThreadingMixIn, WSGIServer): daemon_threads = True
make_server('127.0.0.1', ${NOVA_PORT}, w.application, server_class=S).serve_forever()
" > "${DIR}/api.log" 2>&1 &
  echo $! > "${DIR}/api.pid"

  for _ in $(seq 1 90); do up "http://127.0.0.1:${NOVA_PORT}/" && up "http://127.0.0.1:${NEUTRON_NOVA_PORT}/" \
    && up "http://127.0.0.1:${GLANCE_PORT}/" && up "http://127.0.0.1:${PLACEMENT_PORT}/" && break; sleep 1; done
  for s in placement glance neutron-nova api; do
    running "$s" || { log "${s} did not start"; tail -30 "${DIR}/${s}.log" >&2; exit 1; }
  done

fi

# --- the catalog, the compute host, flavors, an image, the projects' quotas -------------------------
# Every time, and idempotent: Keystone may have been started afresh under a running Nova.
"${OS_VENV}/bin/python" - "${KS}" "${NOVA_PORT}" "${GLANCE_PORT}" "${PLACEMENT_PORT}" "${DIR}/env" "${NM[@]}" <<'PY' >&2
import json, subprocess, sys, time
import requests
ks, nova_port, glance_port, placement_port, env_file = sys.argv[1:6]
nova_manage = sys.argv[6:]
auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
        "domain": {"name": "Default"}, "password": "admin"}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
r = requests.post(f"{ks}/auth/tokens", json=auth)
r.raise_for_status()
h = {"x-auth-token": r.headers["x-subject-token"]}

def register(kind, name, url):
    services = requests.get(f"{ks}/services?type={kind}", headers=h).json()["services"]
    urls = [e["url"] for s in services
            for e in requests.get(f"{ks}/endpoints?service_id={s['id']}", headers=h).json()["endpoints"]]
    if urls == [url]:
        return
    for s in services:
        for e in requests.get(f"{ks}/endpoints?service_id={s['id']}", headers=h).json()["endpoints"]:
            requests.delete(f"{ks}/endpoints/{e['id']}", headers=h)
        requests.delete(f"{ks}/services/{s['id']}", headers=h)
    sid = requests.post(f"{ks}/services", headers=h, json={"service": {"type": kind, "name": name}}).json()["service"]["id"]
    requests.post(f"{ks}/endpoints", headers=h, json={"endpoint": {"service_id": sid, "interface": "public",
                  "region_id": "RegionOne", "url": url}}).raise_for_status()

# Nova sends Neutron the user's token and its own as X-Service-Token; the latter must carry the
# `service` role (keystonemiddleware's service_token_roles_required), as a Nova service user's does.
uid = requests.get(f"{ks}/users?name=admin", headers=h).json()["users"][0]["id"]
admin_project = requests.get(f"{ks}/projects?name=admin", headers=h).json()["projects"][0]["id"]
service_role = requests.get(f"{ks}/roles?name=service", headers=h).json()["roles"][0]["id"]
requests.put(f"{ks}/projects/{admin_project}/users/{uid}/roles/{service_role}", headers=h).raise_for_status()

nova = f"http://127.0.0.1:{nova_port}/v2.1"
register("compute", "nova", nova)
register("image", "glance", f"http://127.0.0.1:{glance_port}")
register("placement", "placement", f"http://127.0.0.1:{placement_port}")

deadline = time.time() + 120
while True:
    hv = requests.get(f"{nova}/os-hypervisors/detail", headers=h).json().get("hypervisors", [])
    if any(x.get("state") == "up" for x in hv):
        break
    if time.time() > deadline:
        sys.exit(f"the compute host never came up: {hv}")
    subprocess.run(nova_manage + ["cell_v2", "discover_hosts"], check=True, capture_output=True)
    time.sleep(1)

for fid, fname, vcpus in [("rovim-tiny", "rovim.tiny", 1), ("rovim-huge", "rovim.huge", 4096)]:
    if requests.get(f"{nova}/flavors/{fid}", headers=h).status_code == 404:
        requests.post(f"{nova}/flavors", headers=h, json={"flavor": {"name": fname, "id": fid,
                      "vcpus": vcpus, "ram": 64, "disk": 0}}).raise_for_status()
g = f"http://127.0.0.1:{glance_port}/v2"
have = [i["id"] for i in requests.get(f"{g}/images?name=rovim-test&status=active").json()["images"]]
if have:
    image = have[0]
else:
    image = requests.post(f"{g}/images", json={"name": "rovim-test", "disk_format": "raw",
                          "container_format": "bare", "visibility": "shared"}).json()["id"]
    requests.put(f"{g}/images/{image}/file", data=b"\0" * (1 << 20),
                 headers={"content-type": "application/octet-stream"}).raise_for_status()
for _ in range(60):
    if requests.get(f"{g}/images/{image}").json()["status"] == "active":
        break
    time.sleep(0.5)

# The tests' own project runs many servers at once (and one no host can take): no quota there.
requests.put(f"{nova}/os-quota-sets/{admin_project}", headers=h,
             json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
# A project the admin user manages whose quota allows no server: quota failures, for real.
p = requests.post(f"{ks}/projects", headers=h, json={"project": {"name": "rovim-quota", "domain_id": "default"}})
pid = p.json()["project"]["id"] if p.ok else requests.get(f"{ks}/projects?name=rovim-quota", headers=h).json()["projects"][0]["id"]
rid = requests.get(f"{ks}/roles?name=admin", headers=h).json()["roles"][0]["id"]
requests.put(f"{ks}/projects/{pid}/users/{uid}/roles/{rid}", headers=h).raise_for_status()
requests.put(f"{nova}/os-quota-sets/{pid}", headers=h,
             json={"quota_set": {"instances": 0}}).raise_for_status()
# Servers an earlier, failed run left behind hold the fake host's few PCI devices: a test
# starts with none (this Nova is the tests' own).
mv = {"openstack-api-version": "compute 2.52", **h}
left = requests.get(f"{nova}/servers?all_tenants=1", headers=mv).json()["servers"]
for s in left:
    requests.delete(f"{nova}/servers/{s['id']}", headers=mv)
for _ in range(120):
    if not requests.get(f"{nova}/servers?all_tenants=1", headers=mv).json()["servers"]:
        break
    time.sleep(0.5)
if left:
    print(f"deleted {len(left)} server(s) left by earlier runs", file=sys.stderr)
with open(env_file, "w") as f:
    f.write(f"export ROVIM_TEST_NOVA_URL={nova}\n")
    f.write("export ROVIM_TEST_NOVA_FLAVOR=rovim-tiny\n")
    f.write("export ROVIM_TEST_NOVA_HUGE_FLAVOR=rovim-huge\n")
    f.write(f"export ROVIM_TEST_NOVA_IMAGE={image}\n")
    f.write("export ROVIM_TEST_NOVA_QUOTA_PROJECT=rovim-quota\n")
PY

version() { "${VENV}/bin/pip" show "$1" 2>/dev/null | awk '/^Version/ {print $2}'; }
log "peers: nova $(version nova) (compute 2.1-$(curl -fsS "http://127.0.0.1:${NOVA_PORT}/" | "${OS_VENV}/bin/python" -c 'import json,sys; print([v["version"] for v in json.load(sys.stdin)["versions"] if v["id"] == "v2.1"][0])'), fake virt driver with 3 PFs / 3 VFs on physnet1) on :${NOVA_PORT}, placement $(version openstack-placement) on :${PLACEMENT_PORT}, glance $(version glance) on :${GLANCE_PORT}, neutron (binding every port, for Nova) on :${NEUTRON_NOVA_PORT}"
cat "${DIR}/env"
