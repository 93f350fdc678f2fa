/**
 * The guest's /init, a busybox shell script run as PID 1: mount the kernel's
 * file systems, load the virtio modules, find the virtio-serial port to the
 * manager by its name, run the app with FROCTAL_MANAGER_URL and
 * FROCTAL_INSTANCE_ID set, and power off when the app ends (PID 1 must not
 * exit: the kernel would panic).
 *
 * busybox has no udev, so there is no /dev/virtio-ports/NAME symlink: the
 * port's name is read from /sys/class/virtio-ports/vportNpM/name and the
 * device is /dev/vportNpM, which devtmpfs makes. The name arrives from the
 * host a moment after the port appears, hence the bounded wait.
 *
 * Kernel command line: froctal.instance=ID (required), froctal.port=NAME
 * (default froctal.0), froctal.ip=ADDRESS/LENGTH (the address of the first
 * NIC there is at boot, which is brought up: a libvirt driver with a network
 * puts it there), froctal.shell=1 (a shell on the console when the app ends,
 * instead of powering off; for debugging by hand).
 */

export interface InitOptions {
  /** Modules to insmod, in order, from `moduleDir`. */
  readonly modules: readonly string[];
  readonly moduleDir: string;
  readonly node: string;
  readonly app: string;
  /** The virtio-serial port's name when the command line names none. */
  readonly defaultPort: string;
  /** How long to wait for the port, in tenths of a second. */
  readonly portWaitTenths?: number;
}

const SAFE = /^[A-Za-z0-9_./-]+$/;

export function initScript(options: InitOptions): string {
  const { modules, moduleDir, node, app, defaultPort } = options;
  for (const word of [...modules, moduleDir, node, app, defaultPort]) {
    if (!SAFE.test(word)) throw new Error(`not a safe word for the init script: ${JSON.stringify(word)}`);
  }
  const tenths = options.portWaitTenths ?? 150;
  return `#!/bin/busybox sh
# /init of a froctal guest, made by @froctal/guest-image.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "froctal-init: $*"; }
stop() {
  say "$*"
  [ "$shell" = 1 ] && sh
  poweroff -f
}

instance=
port=${defaultPort}
shell=
address=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    froctal.instance=*) instance=\${arg#*=} ;;
    froctal.port=*) port=\${arg#*=} ;;
    froctal.ip=*) address=\${arg#*=} ;;
    froctal.shell=*) shell=\${arg#*=} ;;
  esac
done

for m in ${modules.join(" ")}; do
  insmod ${moduleDir}/$m.ko || say "insmod $m failed"
done
ip link set lo up
[ -n "$instance" ] && hostname "$instance"
if [ -n "$address" ]; then
  nic=
  for d in /sys/class/net/*; do
    [ -z "$nic" ] && [ "\${d##*/}" != lo ] && nic=\${d##*/}
  done
  if [ -n "$nic" ] && ip address add "$address" dev "$nic" && ip link set "$nic" up; then
    say "$nic has address $address"
  else
    say "no NIC took address $address (NICs: $(ls /sys/class/net))"
  fi
fi

device=
tries=0
while [ -z "$device" ] && [ $tries -lt ${tenths} ]; do
  for d in /sys/class/virtio-ports/*; do
    [ "$(cat "$d/name" 2>/dev/null)" = "$port" ] && [ -c "/dev/\${d##*/}" ] && device=/dev/\${d##*/}
  done
  [ -n "$device" ] || { sleep 0.1; tries=$((tries + 1)); }
done
[ -n "$device" ] || stop "no virtio-serial port named $port (ports: $(ls /sys/class/virtio-ports 2>/dev/null))"
[ -n "$instance" ] || stop "no froctal.instance=ID on the kernel command line"

export FROCTAL_MANAGER_URL="$device" FROCTAL_INSTANCE_ID="$instance"
say "starting the app as instance $instance, manager at $device"
${node} ${app}
stop "the app exited with status $?"
`;
}
