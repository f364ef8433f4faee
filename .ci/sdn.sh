#!/usr/bin/env bash
# Installs (once) and starts the SDN lab of the Ryu connector tests (../shared/peers/README.md):
# Open vSwitch in userspace (no kernel module) with one OpenFlow 1.3 bridge `br-data` (dpid 1,
# fail_mode secure) and the Ryu controller with its REST API (ofctl_rest). Two internal ports of
# the bridge stand for two SR-IOV interfaces, each in its own network namespace with a fixed
# MAC and an address on one /24, so a test can send real packets between them:
#   port 1 = rovim-sdn-a (02:00:00:00:0a:01, 10.99.0.1), port 2 = rovim-sdn-b (02:00:00:00:0b:01, 10.99.0.2)
# Nothing leaves the machine: the bridge has no uplink. Reuses what already runs.
# Prints the environment the tests read: ROVIM_TEST_RYU_URL.
# Usage: eval "$(bash .ci/sdn.sh)"
set -euo pipefail
VENV="${HOME}/.cache/rovim/ryu-venv"
DIR="${ROVIM_SDN_DIR:-/tmp/rovim-sdn}"
O="${DIR}/ovs"
REST_PORT=18080
OF_PORT=6653
log() { echo "$*" >&2; }
vsctl() { ovs-vsctl --db="unix:${O}/db.sock" "$@"; }

if ! command -v ovs-vswitchd >/dev/null; then
  log "installing openvswitch-switch"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openvswitch-switch >&2
fi
if [ ! -x "${VENV}/bin/ryu-manager" ]; then
  # Ryu 4.34 (2020) on Python 3.11: old setuptools, pinned eventlet and dnspython, and one line of
  # its WSGI module that imports a name eventlet no longer has (only used by websockets).
  log "installing ryu into ${VENV}"
  python3 -m venv "${VENV}"
  "${VENV}/bin/pip" install --quiet 'setuptools<58' wheel >&2
  "${VENV}/bin/pip" install --quiet --no-build-isolation 'ryu==4.34' 'eventlet==0.33.3' 'dnspython>=2,<2.3' >&2
  sed -i 's/^    from eventlet.wsgi import ALREADY_HANDLED$/    ALREADY_HANDLED = []/' \
    "${VENV}"/lib/python3*/site-packages/ryu/app/wsgi.py
fi
mkdir -p "${O}"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ! alive "${O}/ovs-vswitchd.pid" || ! alive "${O}/ovsdb-server.pid"; then
  log "starting Open vSwitch (userspace datapath) in ${O}"
  for p in "${O}"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  for l in br-data p1 p2 ovs-netdev; do ip link del "$l" 2>/dev/null || true; done
  for ns in rovim-sdn-a rovim-sdn-b; do ip netns del "$ns" 2>/dev/null || true; done
  rm -f "${O}"/conf.db "${O}"/*.pid
  export OVS_RUNDIR="${O}" OVS_LOGDIR="${O}" OVS_DBDIR="${O}"
  ovsdb-tool create "${O}/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "${O}/conf.db" --remote="punix:${O}/db.sock" --pidfile="${O}/ovsdb-server.pid" \
    --unixctl="${O}/ovsdb-server.ctl" --log-file="${O}/ovsdb-server.log" --detach
  vsctl --no-wait init
  ovs-vswitchd "unix:${O}/db.sock" --pidfile="${O}/ovs-vswitchd.pid" --unixctl="${O}/ovs-vswitchd.ctl" \
    --log-file="${O}/ovs-vswitchd.log" --detach
  vsctl add-br br-data -- set bridge br-data datapath_type=netdev protocols=OpenFlow13 \
    other-config:datapath-id=0000000000000001 fail_mode=secure
  for i in 1 2; do
    side=$([ "$i" = 1 ] && echo a || echo b)
    vsctl add-port br-data "p${i}" -- set interface "p${i}" type=internal "ofport_request=${i}"
    ns="rovim-sdn-${side}"
    ip netns add "${ns}"
    for _ in $(seq 1 20); do ip link show "p${i}" >/dev/null 2>&1 && break; sleep 0.2; done
    ip link set "p${i}" netns "${ns}"
    ip -n "${ns}" link set "p${i}" address "02:00:00:00:0${side}:01"
    ip -n "${ns}" addr add "10.99.0.${i}/24" dev "p${i}"
    ip -n "${ns}" link set "p${i}" up
    ip -n "${ns}" link set lo up
  done
  vsctl set-controller br-data "tcp:127.0.0.1:${OF_PORT}"
fi

if ! curl -fsS "http://127.0.0.1:${REST_PORT}/stats/switches" >/dev/null 2>&1; then
  log "starting ryu-manager (ofctl_rest) on :${REST_PORT}"
  pkill -f "ryu-manager .*--wsapi-port ${REST_PORT}" 2>/dev/null || true
  # The redirections are the background job's own: a job that kept this script's stdout
  # would keep `eval "$(bash .ci/sdn.sh)"` waiting for ever (CI's timeout of stop 25).
  (cd "${DIR}" && exec nohup "${VENV}/bin/ryu-manager" --ofp-listen-host 127.0.0.1 --ofp-tcp-listen-port "${OF_PORT}" \
    --wsapi-host 127.0.0.1 --wsapi-port "${REST_PORT}" ryu.app.ofctl_rest) < /dev/null > "${DIR}/ryu.log" 2>&1 &
  echo $! > "${DIR}/ryu.pid"
fi
for _ in $(seq 1 60); do
  [ "$(curl -fsS "http://127.0.0.1:${REST_PORT}/stats/switches" 2>/dev/null)" = "[1]" ] && break
  sleep 0.5
done
[ "$(curl -fsS "http://127.0.0.1:${REST_PORT}/stats/switches")" = "[1]" ] \
  || { log "br-data did not connect to ryu"; tail -20 "${DIR}/ryu.log" >&2; exit 1; }

log "peers: open vswitch $(ovs-vswitchd --version | awk 'NR==1 {print $NF}') (userspace, br-data dpid 1), ryu $("${VENV}/bin/pip" show ryu | awk '/^Version/ {print $2}') (ofctl_rest) on :${REST_PORT}"
echo "export ROVIM_TEST_RYU_URL=http://127.0.0.1:${REST_PORT}"
