#!/bin/sh
# Runs a libvirtd of its own, with the QEMU driver, for as long as this script runs; the
# machine's libvirt configuration and any libvirtd already running stay untouched.
#   Prints one line on stdout when the daemon answers: its URI,
#     qemu:///system?socket=<dir>/sock/libvirt-sock   (virsh -c URI, @unraid/libvirt, FROCTAL_LIBVIRT_URI)
#   then runs until its stdin ends or it gets SIGTERM, SIGINT or SIGHUP; then it destroys the
#   domains left on that daemon, stops it and removes <dir>. Tests start it with a pipe on
#   stdin, so a test runner that dies (even by SIGKILL) still ends it; by hand, run it in a
#   terminal of its own and press Ctrl-C when done.
# Why a mount namespace: a libvirtd run as root always reads /etc/libvirt/qemu.conf and keeps
# its state under /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt;
# only libvirtd.conf (--config) and the pid file (--pid-file) can be moved. So the daemon runs
# in a private mount namespace (unshare) where those five directories are bind mounts of
# folders in <dir>, with a qemu.conf of its own: QEMU as root, unconfined (no systemd or
# AppArmor here), no chown of the image or sockets, no cgroups, no virtlogd. Its sockets are
# in <dir>/sock, reachable from outside the namespace.
# Needs root, and the packages libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients and
# qemu-system-x86 (sh tools/setup/ensure.sh --test installs them).
# Environment: FROCTAL_LIBVIRTD_WAIT_S (default 30) bounds the wait for the daemon to answer;
# TMPDIR (default /tmp) is where <dir> is made.
set -eu

say() { echo "froctal private libvirtd: $*" >&2; }
die() {
  say "$*"
  exit 1
}

[ "$(id -u)" = 0 ] || die "run this as root (a libvirtd with QEMU as root needs it)"
# libvirtd is in /usr/sbin, which a test runner's PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"
for tool in libvirtd virsh qemu-system-x86_64 unshare mount; do
  command -v $tool >/dev/null 2>&1 || die "$tool is not installed (sh tools/setup/ensure.sh --test installs it)"
done
[ -n "$(ls /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so 2>/dev/null)" ] ||
  die "libvirt's QEMU driver is not installed (Debian: libvirt-daemon-driver-qemu)"
WAIT_S=${FROCTAL_LIBVIRTD_WAIT_S:-30}

# Short: unix socket paths are limited to 107 bytes.
DIR=$(mktemp -d "${TMPDIR:-/tmp}/froctal-libvirtd-XXXXXX")
URI="qemu:///system?socket=$DIR/sock/libvirt-sock"
PID=""
WATCH=""
cleanup() {
  trap '' TERM INT HUP
  [ -d "$DIR" ] || return 0
  [ -z "$WATCH" ] || kill "$WATCH" 2>/dev/null || true
  # Domains first, through the daemon, so it tears each down as it should ...
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    for name in $(virsh -q -c "$URI" list --name 2>/dev/null); do
      virsh -q -c "$URI" destroy "$name" >/dev/null 2>&1 || true
    done
    kill "$PID" 2>/dev/null || true
    i=0
    while kill -0 "$PID" 2>/dev/null && [ "$i" -lt 100 ]; do
      sleep 0.1
      i=$((i + 1))
    done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  # ... and any QEMU that outlived it (the daemon died first): QEMU is daemonized, so stopping
  # libvirtd does not stop it. Its pid files are in this daemon's run directory.
  for file in "$DIR"/run/qemu/*.pid; do
    [ -f "$file" ] || continue
    qemu=$(cat "$file" 2>/dev/null || true)
    case "$(cat "/proc/$qemu/comm" 2>/dev/null || true)" in
    qemu-system-*) kill -KILL "$qemu" 2>/dev/null || true ;;
    esac
  done
  rm -rf "$DIR"
}
trap 'cleanup; exit 1' TERM INT HUP
trap cleanup EXIT

mkdir -p "$DIR/etc" "$DIR/run" "$DIR/lib" "$DIR/cache" "$DIR/log" "$DIR/sock" "$DIR/id"
chmod 700 "$DIR/sock"
cat >"$DIR/etc/libvirtd.conf" <<EOF
unix_sock_dir = "$DIR/sock"
# Root only (the folder is root's, mode 0700): no polkit, no other user.
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$DIR/log/libvirtd.log"
EOF
cat >"$DIR/etc/qemu.conf" <<EOF
user = "root"
group = "root"
security_driver = "none"
# The kernel, initrd and sockets belong to the test run: never chown or label them.
dynamic_ownership = 0
remember_owner = 0
# QEMU stays in the daemon's cgroup: no machine/ cgroups beside a system libvirtd's.
cgroup_controllers = [ ]
# QEMU's own log goes straight to a file: no virtlogd to run.
stdio_handler = "file"
EOF
# libvirtd looks up its built-in QEMU user and group (Debian: libvirt-qemu) before it reads
# qemu.conf, and refuses to start the QEMU driver if they do not exist; QEMU still runs as root.
# The namespace sees copies of /etc/passwd and /etc/group that have them, so the machine needs no
# such user.
cp /etc/passwd "$DIR/id/passwd"
cp /etc/group "$DIR/id/group"
grep -q '^libvirt-qemu:' "$DIR/id/group" || echo 'libvirt-qemu:x:64055:' >>"$DIR/id/group"
grep -q '^libvirt-qemu:' "$DIR/id/passwd" ||
  echo "libvirt-qemu:x:64055:$(sed -n 's/^libvirt-qemu:x:\([0-9]*\):.*/\1/p' "$DIR/id/group"):libvirt:/nonexistent:/usr/sbin/nologin" >>"$DIR/id/passwd"

# The mount points: a machine with libvirt installed but no libvirtd ever run lacks most of them.
# An empty directory is all the machine gets (where libvirt itself would make it); it is left.
for target in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
  [ -d "$target" ] || { mkdir -p "$target" && say "made the empty mount point $target"; }
done

# unshare execs sh, which execs libvirtd: $! is the daemon's pid. --propagation private keeps
# every mount below inside the namespace. libvirtd stays in the foreground, our child.
unshare --mount --propagation private sh -c '
  set -e
  dir=$1
  mount --bind "$dir/etc" /etc/libvirt
  mount --bind "$dir/run" /run/libvirt
  mount --bind "$dir/lib" /var/lib/libvirt
  mount --bind "$dir/cache" /var/cache/libvirt
  mount --bind "$dir/log" /var/log/libvirt
  mount --bind "$dir/id/passwd" /etc/passwd
  mount --bind "$dir/id/group" /etc/group
  exec libvirtd --config "$dir/etc/libvirtd.conf" --pid-file "$dir/libvirtd.pid"
' private-libvirtd "$DIR" </dev/null >/dev/null 2>"$DIR/log/stderr" &
PID=$!

# It answers within ~0.2 s. It probes QEMU's capabilities when a domain first needs them (~4 s
# a QEMU binary under TCG on 2 cores), cached in $DIR/cache: once a run.
i=0
while ! err=$(virsh -q -c "$URI" list 2>&1 >/dev/null); do
  i=$((i + 1))
  if ! kill -0 "$PID" 2>/dev/null; then
    die "libvirtd exited: $(tail -n 5 "$DIR/log/stderr" "$DIR/log/libvirtd.log" 2>/dev/null)"
  fi
  [ "$i" -le $((WAIT_S * 10)) ] || die "virsh -c $URI list did not answer within $WAIT_S s: $err"
  sleep 0.1
done
say "pid $PID answers on $URI (state in $DIR)"
echo "$URI"

# Until stdin ends: cat in the background, so that a signal's trap runs at once, not after it;
# through fd 3, because sh gives a background command /dev/null for its stdin.
exec 3<&0
cat <&3 >/dev/null &
WATCH=$!
wait "$WATCH" || true
