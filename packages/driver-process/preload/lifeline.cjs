/**
 * Preloaded into every guest (node --require) so that guests die with their
 * manager. The manager holds one end of a pipe on the guest's fd 3; when the
 * manager process ends, however it ends (SIGKILL included), the kernel closes
 * that end and the guest reads EOF here. A child process cannot be adopted by a
 * later manager, so a guest left behind would only be an orphan.
 *
 * The guest's process group gets SIGTERM, and SIGKILL after the grace period if
 * the guest is still there. The socket is unref'd: it never keeps a guest alive.
 * The variable is removed so that processes the guest starts do not watch an fd
 * that is not theirs.
 */
"use strict";
const net = require("node:net");

const setting = process.env.FROCTAL_LIFELINE;
delete process.env.FROCTAL_LIFELINE;
const [fdText, graceText] = (setting ?? "").split(":");
const fd = Number(fdText);
const graceMs = Number(graceText);

function signalGroup(signal) {
  try {
    process.kill(-process.pid, signal);
  } catch {
    process.kill(process.pid, signal);
  }
}

if (Number.isInteger(fd) && fd > 2 && Number.isFinite(graceMs) && graceMs >= 0) {
  let line;
  try {
    line = new net.Socket({ fd, readable: true, writable: false });
  } catch {
    line = undefined; // not started by the process driver after all
  }
  if (line !== undefined) {
    let orphaned = false;
    const die = () => {
      if (orphaned) return;
      orphaned = true;
      setTimeout(() => signalGroup("SIGKILL"), graceMs).unref();
      signalGroup("SIGTERM");
    };
    line.on("end", die);
    line.on("error", die);
    line.unref();
    line.resume();
  }
}
