#!/bin/sh
# Brings a fresh Debian machine with Node >= 20 to where froctal builds, runs and
# tests; idempotent, and quick when everything is already in place.
#   --test   also what the test suite needs (protoc for the contract round-trip, libvirtd and
#            QEMU for the VM tests, promtool for /metrics, etcd for state-etcd, Open vSwitch and ethtool for
#            network-ovs); it installs packages only: the tests start the daemons they need themselves, with
#            their own configuration (private-libvirtd.sh, tools/ovs-switch);
#            and Debian's chromium with a font for the dashboard's browser test (about 10 s to install here)
set -eu
cd "$(dirname "$0")/../.."

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "froctal: Node >= 20 is needed; this is $(node -v)" >&2
  exit 1
fi

debs=""
# The libvirt binding (@unraid/libvirt) compiles against libvirt's headers during npm ci.
[ -f /usr/include/libvirt/libvirt.h ] || debs="$debs libvirt-dev"
command -v pkg-config >/dev/null 2>&1 || debs="$debs pkg-config"
for tool in make g++ python3; do command -v $tool >/dev/null 2>&1 || debs="$debs build-essential python3"; done
refresh=""
if [ "${1:-}" = "--test" ]; then
  command -v protoc >/dev/null 2>&1 || debs="$debs protobuf-compiler"
  # The guest-image tests boot a real kernel under QEMU (software emulation) ...
  command -v qemu-system-x86_64 >/dev/null 2>&1 || debs="$debs qemu-system-x86"
  command -v xz >/dev/null 2>&1 || debs="$debs xz-utils"
  command -v virsh >/dev/null 2>&1 || debs="$debs libvirt-clients"
  # The VM tests run a libvirtd of their own (tools/setup/private-libvirtd.sh) with the QEMU driver.
  [ -x /usr/sbin/libvirtd ] || debs="$debs libvirt-daemon"
  [ -n "$(ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so 2>/dev/null)" ] ||
    debs="$debs libvirt-daemon-driver-qemu"
  # The README's own commands, which a test runs as written, read JSON with curl and jq.
  command -v curl >/dev/null 2>&1 || debs="$debs curl"
  command -v jq >/dev/null 2>&1 || debs="$debs jq"
  # The dashboard's browser test drives Debian's chromium through playwright-core (whose own browser
  # downloads cannot work here); without a font its screenshots are blank and its text empty.
  [ -x /usr/bin/chromium ] || debs="$debs chromium"
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || debs="$debs fonts-dejavu-core"
  # Open vSwitch's binaries are unpacked below; the one library they need that Debian lacks by default.
  [ -n "$(ls /usr/lib/*/libxdp.so.1 2>/dev/null)" ] || debs="$debs libxdp1"
  # Every veth on a netdev bridge needs `ethtool -K IF tx off`, or TCP checksums fail.
  [ -x /usr/sbin/ethtool ] || debs="$debs ethtool"
  # network-ovs's guests-on-the-bridge test pings from one namespace to another.
  command -v ping >/dev/null 2>&1 || debs="$debs iputils-ping"
  # ... built from Debian's packages with `apt-get download`, which needs current package lists.
  [ -n "$(ls tools/guest-image/.cache/debs 2>/dev/null)" ] || refresh="yes"
fi
if [ -n "$debs$refresh" ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "froctal: please install these Debian packages first:$debs" >&2
    exit 1
  fi
  $sudo apt-get update -qq
  if [ -n "$debs" ]; then
    echo "froctal setup: installing$debs"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $debs >/dev/null
  fi
fi

# unpack PACKAGE BINARY [PATH...]: copies /usr/bin/BINARY (or else each PATH, a file of the package) out of
# Debian's PACKAGE into tools/setup/.cache, for tools whose package would start a daemon on install
# (a test starts its own, on ports of its own).
unpack() {
  echo "froctal setup: unpacking $2 from Debian's $1 package"
  deb=$(mktemp -d)
  if ! (cd "$deb" && apt-get download "$1" >/dev/null 2>&1); then
    # No package lists yet (a fresh container): fetch them, then try once more.
    if [ "$(id -u)" = 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi
    (cd "$deb" && apt-get download "$1" >/dev/null 2>&1) || {
      echo "froctal: could not download Debian's $1 package, which has $2" >&2
      exit 1
    }
  fi
  dpkg-deb -x "$deb"/"$1"_*.deb "$deb/root"
  mkdir -p tools/setup/.cache
  if [ $# -gt 2 ]; then shift 2; else set -- "usr/bin/$2"; fi
  for file in "$@"; do cp "$deb/root/$file" tools/setup/.cache/; done
  rm -rf "$deb"
}
if [ "${1:-}" = "--test" ]; then
  # promtool (the /metrics test lints with `promtool check metrics`): prometheus may start a daemon on :9090.
  [ -x tools/setup/.cache/promtool ] || unpack prometheus promtool
  # etcd (the state-etcd tests start members of their own, on free loopback ports): etcd-server enables one on 2379/2380.
  [ -x tools/setup/.cache/etcd ] || unpack etcd-server etcd
  # Open vSwitch (network-ovs's tests start a private ovsdb-server and ovs-vswitchd, with a database and
  # sockets of their own): openvswitch-switch starts the system's on install and registers it at boot.
  [ -x tools/setup/.cache/ovs-ofctl ] || unpack openvswitch-common ovs-ofctl \
    usr/bin/ovs-ofctl usr/bin/ovs-appctl usr/bin/ovsdb-tool usr/sbin/ovsdb-server
  [ -f tools/setup/.cache/vswitch.ovsschema ] || unpack openvswitch-switch ovs-vswitchd \
    usr/lib/openvswitch-switch/ovs-vswitchd usr/bin/ovs-vsctl usr/share/openvswitch/vswitch.ovsschema
fi

# npm packages: `npm ci` only when package-lock.json changed since the last one.
stamp=node_modules/.froctal-setup
want=$(node -e 'const c=require("node:crypto");process.stdout.write(c.createHash("sha256").update(require("node:fs").readFileSync("package-lock.json")).digest("hex"))')
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "froctal setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
