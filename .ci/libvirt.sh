#!/usr/bin/env bash
# Installs (once) and starts the libvirt lab of the libvirt VIM tests (../shared/peers/README.md):
# libvirt 11 and QEMU 10 from bookworm-backports (this image's qemu-utils comes from there, so
# bookworm's own QEMU does not install beside it), virtlogd and libvirtd as root (no systemd),
# and the tiny guest: Debian's cloud kernel and an initramfs of busybox-static with the virtio
# network modules. The guest takes an address by DHCP on every interface, prints
# `ROVIM-GUEST <iface> <mac> <ip>` on its serial console, and runs the user data it finds on its
# kernel command line (`rovim.user_data=<base64>`) as a shell script. The same guest is also a
# bootable disk image (disk.qcow2: a FAT file system with syslinux, made without mounting
# anything), for the VMs of disk images.
# Run .ci/sdn.sh first: libvirt plugs data interfaces into its Open vSwitch bridge br-data
# (libvirt calls plain ovs-vsctl, so the default database socket is linked to the lab's).
# No traffic leaves the machine: rovim's libvirt networks are isolated (no <forward>).
# Prints the environment the tests read:
#   ROVIM_TEST_LIBVIRT_URL  the libvirt URI
#   ROVIM_TEST_GUEST_DIR    vmlinuz + initrd.img, and disk.qcow2
# Usage: eval "$(bash .ci/libvirt.sh)"
set -euo pipefail
# libvirt's own image directory: QEMU runs as libvirt-qemu, which cannot read under /root.
GUEST=/var/lib/libvirt/images/rovim-guest
OVS_DB="${ROVIM_SDN_DIR:-/tmp/rovim-sdn}/ovs/db.sock"
log() { echo "$*" >&2; }
apt_install() {
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

if ! command -v libvirtd >/dev/null || ! command -v qemu-system-x86_64 >/dev/null || ! command -v dnsmasq >/dev/null; then
  log "installing libvirt and qemu from bookworm-backports"
  src=/etc/apt/sources.list.d/backports.sources
  [ -f "${src}" ] || printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
    'Suites: bookworm-backports' 'Components: main' \
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > "${src}"
  # dnsmasq-base serves the networks' DHCP (a recommendation, so not pulled in by itself).
  apt_install -t bookworm-backports libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients \
    qemu-system-x86 dnsmasq-base
fi

# libvirt asks ovs-vsctl for the bridge at its default socket.
if [ -S "${OVS_DB}" ]; then
  mkdir -p /var/run/openvswitch
  ln -sf "${OVS_DB}" /var/run/openvswitch/db.sock
fi

if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  log "starting virtlogd and libvirtd"
  pgrep -x virtlogd >/dev/null || virtlogd -d < /dev/null > /dev/null 2>&1
  pgrep -x libvirtd >/dev/null || libvirtd -d < /dev/null > /dev/null 2>&1
  for _ in $(seq 1 60); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.5; done
fi
virsh -c qemu:///system version >/dev/null

if [ ! -f "${GUEST}/initrd.img" ] || [ ! -f "${GUEST}/vmlinuz" ]; then
  log "making the tiny guest in ${GUEST}"
  work="$(mktemp -d)"; chmod 0755 "${work}"
  trap 'rm -rf "${work}"' EXIT
  kpkg="$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')"
  (cd "${work}" && apt-get download "${kpkg}" busybox-static >&2)
  for deb in "${work}"/*.deb; do dpkg-deb -x "${deb}" "${work}/root"; done
  r="${work}/initramfs"
  mkdir -p "${r}/bin" "${r}/lib/modules" "${r}/proc" "${r}/sys" "${r}/dev" "${r}/tmp"
  cp "${work}/root/bin/busybox" "${r}/bin/busybox"
  # virtio-net and what it needs, in load order (the cloud kernel builds them as modules).
  modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
  for m in ${modules}; do
    ko="$(find "${work}/root/lib/modules" -name "${m}.ko*" | head -1)"
    [ -n "${ko}" ] || { log "module ${m} not in ${kpkg}"; exit 1; }
    case "${ko}" in
      *.xz) xz -dc "${ko}" > "${r}/lib/modules/${m}.ko" ;;
      *.zst) zstd -qdc "${ko}" > "${r}/lib/modules/${m}.ko" ;;
      *) cp "${ko}" "${r}/lib/modules/${m}.ko" ;;
    esac
  done
  cat > "${r}/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in ${modules}; do insmod /lib/modules/\$m.ko; done
say() { echo "ROVIM-GUEST \$*" > /dev/ttyS0; }
ip link set lo up
for i in \$(ls /sys/class/net); do
  [ "\$i" = lo ] && continue
  ip link set "\$i" up
  udhcpc -i "\$i" -s /dhcp.sh -f -q -t 60 -T 1 >/dev/null 2>&1 &
done
for a in \$(cat /proc/cmdline); do
  case "\$a" in rovim.user_data=*) echo "\${a#rovim.user_data=}" | base64 -d > /user-data ;; esac
done
[ -f /user-data ] && sh /user-data > /dev/ttyS0 2>&1 &
say up
while :; do sleep 3600; done
EOF
  cat > "${r}/dhcp.sh" <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr add "$ip/${mask:-24}" dev "$interface"
    echo "ROVIM-GUEST $interface $(cat /sys/class/net/$interface/address) $ip" > /dev/ttyS0 ;;
esac
EOF
  chmod +x "${r}/init" "${r}/dhcp.sh"
  mkdir -p "${GUEST}"
  cp "${work}"/root/boot/vmlinuz-* "${GUEST}/vmlinuz"
  (cd "${r}" && find . | "${r}/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1 > "${GUEST}/initrd.img")
  chmod 0644 "${GUEST}/vmlinuz" "${GUEST}/initrd.img"
fi

if [ ! -f "${GUEST}/disk.qcow2" ] || [ "${GUEST}/initrd.img" -nt "${GUEST}/disk.qcow2" ]; then
  log "making the tiny guest's disk image ${GUEST}/disk.qcow2"
  command -v syslinux >/dev/null && command -v mcopy >/dev/null && command -v mkfs.vfat >/dev/null \
    || apt_install syslinux mtools dosfstools
  disk="$(mktemp -d)"
  truncate -s 48M "${disk}/disk.raw"
  # A FAT "superfloppy" (no partition table): the BIOS starts syslinux's boot sector at once.
  mkfs.vfat -n ROVIM "${disk}/disk.raw" >/dev/null
  syslinux --install "${disk}/disk.raw"
  printf '%s\n' 'DEFAULT rovim' 'PROMPT 0' 'TIMEOUT 0' 'LABEL rovim' '  KERNEL vmlinuz' \
    '  INITRD initrd.img' '  APPEND console=ttyS0 quiet' > "${disk}/syslinux.cfg"
  mcopy -i "${disk}/disk.raw" "${GUEST}/vmlinuz" "${GUEST}/initrd.img" "${disk}/syslinux.cfg" ::/
  qemu-img convert -O qcow2 "${disk}/disk.raw" "${GUEST}/disk.qcow2.part"
  chmod 0644 "${GUEST}/disk.qcow2.part"
  mv "${GUEST}/disk.qcow2.part" "${GUEST}/disk.qcow2"
  rm -rf "${disk}"
fi

v() { virsh -c qemu:///system version | awk -v k="$1" '$0 ~ k {print $NF}'; }
log "peers: libvirt $(v 'Using library'), qemu $(v 'Running hypervisor'), tiny guest in ${GUEST} ($(du -k "${GUEST}/initrd.img" | cut -f1) KiB initramfs)"
echo "export ROVIM_TEST_LIBVIRT_URL=qemu:///system ROVIM_TEST_GUEST_DIR=${GUEST}"
