#!/bin/sh
# Brings up a real libvirtd with the QEMU driver on a machine without systemd
# (a container or CI runner, as root), so that `virsh -c qemu:///system` works.
# Idempotent; quick (well under a second) when everything is already in place.
#   - installs libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients, qemu-system-x86
#     (apt-get update only when the install needs it)
#   - makes the directories a hand-started libvirtd needs
#   - makes the libvirt-qemu user and group libvirtd insists on (libvirt-daemon-system is not installed)
#   - sets user/group root and security_driver "none" in /etc/libvirt/qemu.conf: QEMU runs as
#     root, with no AppArmor/SELinux confinement
#   - starts virtlogd and libvirtd as daemons if they do not run, then waits for them to answer
# Environment: FROCTAL_LIBVIRTD_WAIT_S (default 30) bounds the wait.
set -eu

say() { echo "froctal libvirtd: $*"; }
die() {
  echo "froctal libvirtd: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "run this as root (it installs packages and starts system daemons)"

URI=qemu:///system
CONF=/etc/libvirt/qemu.conf
LOGDIR=/var/log/libvirt
RUNDIR=/var/run/libvirt
# Warnings and errors of the daemons go here: with -d they have no terminal, and there is no syslog.
LOG_OUTPUTS="3:file:$LOGDIR/libvirtd.log"
WAIT_S=${FROCTAL_LIBVIRTD_WAIT_S:-30}

# --- packages ---------------------------------------------------------------
missing=""
for pkg in libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  say "installing$missing"
  apt_install() {
    # Recommends would pull in dnsmasq, iptables, polkit and more that this setup does not use.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  }
  if [ -z "$(ls /var/lib/apt/lists/*_Packages* 2>/dev/null)" ]; then
    say "apt-get update (no package lists yet)"
    apt-get update -qq
    apt_install
  elif ! apt_install 2>/dev/null; then
    say "apt-get update (the install failed with the current package lists)"
    apt-get update -qq
    apt_install
  fi
fi

# --- directories ------------------------------------------------------------
for dir in "$LOGDIR" "$LOGDIR/qemu" "$RUNDIR" "$RUNDIR/qemu" /var/lib/libvirt /var/lib/libvirt/qemu \
  /var/cache/libvirt /var/cache/libvirt/qemu /etc/libvirt; do
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    say "made $dir"
  fi
done

# --- the QEMU driver's default user ----------------------------------------
# libvirtd resolves its built-in default user and group (Debian: libvirt-qemu) before it reads
# qemu.conf, and refuses to start the QEMU driver if they do not exist; libvirt-daemon-system
# would make them. QEMU still runs as root (qemu.conf below).
if ! getent group libvirt-qemu >/dev/null; then
  groupadd --system libvirt-qemu
  say "made the system group libvirt-qemu"
fi
if ! getent passwd libvirt-qemu >/dev/null; then
  useradd --system --gid libvirt-qemu --home-dir /var/lib/libvirt --no-create-home --shell /usr/sbin/nologin libvirt-qemu
  say "made the system user libvirt-qemu"
fi

# --- qemu.conf --------------------------------------------------------------
MARK="# froctal: set by tools/setup/libvirtd.sh (QEMU runs as root, unconfined: no systemd, no AppArmor here)"
conf_changed=""
if ! grep -qxF "$MARK" "$CONF" 2>/dev/null; then
  if [ -f "$CONF" ]; then
    # libvirt takes the first of repeated keys: comment out any active setting we replace.
    sed -i -E 's/^[[:space:]]*(user|group|security_driver)[[:space:]]*=/#&/' "$CONF"
  fi
  printf '\n%s\nuser = "root"\ngroup = "root"\nsecurity_driver = "none"\n' "$MARK" >>"$CONF"
  conf_changed=yes
  say "set user/group root and security_driver \"none\" in $CONF"
fi

# --- daemons ----------------------------------------------------------------
# A pid file names a live daemon only if that pid runs that program.
running() { # name pidfile
  [ -f "$2" ] || return 1
  pid=$(cat "$2" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$1" ]
}

if ! running virtlogd /var/run/virtlogd.pid; then
  LIBVIRT_LOG_OUTPUTS="3:file:$LOGDIR/virtlogd.log" virtlogd -d
  say "started virtlogd"
fi

LIBVIRTD_PID=/var/run/libvirtd.pid
if running libvirtd "$LIBVIRTD_PID" && [ -n "$conf_changed" ]; then
  # It read the old qemu.conf; only the pid it wrote is stopped.
  pid=$(cat "$LIBVIRTD_PID")
  say "restarting libvirtd (pid $pid) to apply $CONF"
  kill "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le 100 ] || die "libvirtd (pid $pid) did not stop within 10 s"
    sleep 0.1
  done
fi
started=""
if ! running libvirtd "$LIBVIRTD_PID"; then
  LIBVIRT_LOG_OUTPUTS="$LOG_OUTPUTS" libvirtd -d
  started=yes
  say "started libvirtd (log: $LOGDIR/libvirtd.log)"
fi

# --- wait for an answer -----------------------------------------------------
# The first start probes QEMU's capabilities (cached afterwards in /var/cache/libvirt/qemu).
i=0
while ! err=$(virsh -q -c "$URI" list 2>&1 >/dev/null); do
  i=$((i + 1))
  # libvirtd -d returns once it has forked and written its pid file; a failing driver ends it soon after.
  if [ "$i" -gt 10 ] && ! running libvirtd "$LIBVIRTD_PID"; then
    die "libvirtd exited; the end of $LOGDIR/libvirtd.log:
$(tail -n 5 "$LOGDIR/libvirtd.log" 2>/dev/null)"
  fi
  if [ "$i" -gt $((WAIT_S * 10)) ]; then
    die "virsh -c $URI list did not answer within $WAIT_S s: $err
(see $LOGDIR/libvirtd.log; the daemon runs: $(running libvirtd "$LIBVIRTD_PID" && echo yes || echo no))"
  fi
  sleep 0.1
done
if [ -n "$started" ]; then
  say "$URI answers ($(virsh -c "$URI" version 2>/dev/null | sed -n 's/^Running hypervisor: //p'))"
else
  say "$URI answers; nothing to do"
fi
