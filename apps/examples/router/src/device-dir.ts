/**
 * A fake device directory: it stands in for the hypervisor's hot-plug
 * notifications, so the examples (and their tests, and a person at a shell)
 * add, change and remove a guest's devices by writing files.
 *
 *   $FROCTAL_DEVICE_DIR/$FROCTAL_INSTANCE_ID/NAME.json   one device NAME, a JSON object of scalars
 *
 * Creating, changing and deleting a file reports the device added, changed and
 * removed. Write a file atomically (write elsewhere, then rename) or it may be
 * read half-written: a file that does not parse keeps its last good contents.
 * Names in `reserved` are control files for the guest, not devices. Removing
 * the directory removes every device; a rescan notices when it comes back.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Agent } from "@froctal/agent";

export type DeviceProps = Readonly<Record<string, string | number | boolean>>;

export interface DeviceChanges {
  readonly added: ReadonlyMap<string, DeviceProps>;
  readonly changed: ReadonlyMap<string, DeviceProps>;
  readonly removed: readonly string[];
}

export interface DeviceDirOptions {
  readonly dir: string;
  /** File names (without .json) that are the guest's control files, not devices. */
  readonly reserved?: readonly string[];
  /** Devices written when the directory does not exist yet: the guest's first boot. */
  readonly seed?: Readonly<Record<string, DeviceProps>>;
  /** Called with every change, the first scan included; `devices` is the whole set after it. */
  readonly onChange: (changes: DeviceChanges, devices: ReadonlyMap<string, DeviceProps>) => void;
  /** A file that cannot be a device, said once per contents. */
  readonly onProblem?: (sentence: string) => void;
  /** Rescan period, a backstop for file-system notifications that never came, ms. */
  readonly rescanMs?: number;
}

export interface DeviceDir {
  readonly devices: ReadonlyMap<string, DeviceProps>;
  close(): void;
}

const FILE = /^([A-Za-z0-9][A-Za-z0-9_.:@-]{0,127})\.json$/;
/** Notifications come in bursts (create, write, close): one scan after the burst. */
const SETTLE_MS = 15;

/** Where this guest's devices live and what it starts with, from FROCTAL_DEVICE_DIR / _SEED. */
export function deviceDirFromEnv(env: NodeJS.ProcessEnv = process.env): {
  dir: string;
  seed: Record<string, DeviceProps>;
} {
  const base = env.FROCTAL_DEVICE_DIR || join(tmpdir(), "froctal-devices");
  const dir = join(base, env.FROCTAL_INSTANCE_ID || "local");
  const seed = env.FROCTAL_DEVICE_SEED ? (JSON.parse(env.FROCTAL_DEVICE_SEED) as Record<string, DeviceProps>) : {};
  return { dir, seed };
}

export function watchDeviceDir(o: DeviceDirOptions): DeviceDir {
  const reserved = new Set(o.reserved ?? []);
  if (!existsSync(o.dir)) {
    mkdirSync(o.dir, { recursive: true });
    for (const [name, props] of Object.entries(o.seed ?? {})) {
      writeFileSync(join(o.dir, `${name}.json`), `${JSON.stringify(props)}\n`);
    }
  }
  let devices = new Map<string, DeviceProps>();
  const said = new Map<string, string>();
  const problem = (name: string, text: string, sentence: string) => {
    if (said.get(name) === text) return;
    said.set(name, text);
    o.onProblem?.(sentence);
  };

  const scan = () => {
    const next = new Map<string, DeviceProps>();
    let files: string[];
    try {
      files = readdirSync(o.dir).sort();
    } catch {
      files = []; // the directory was removed: so were its devices
    }
    for (const file of files) {
      const name = FILE.exec(file)?.[1];
      if (name === undefined || reserved.has(name)) continue;
      let text: string;
      try {
        text = readFileSync(join(o.dir, file), "utf8");
      } catch {
        continue; // deleted since readdir
      }
      const props = parseProps(text);
      if (props === undefined) {
        problem(name, text, `${file} is not a JSON object of strings, numbers and booleans; ignored`);
        const last = devices.get(name);
        if (last !== undefined) next.set(name, last);
        continue;
      }
      said.delete(name);
      next.set(name, props);
    }
    const added = new Map<string, DeviceProps>();
    const changed = new Map<string, DeviceProps>();
    for (const [name, props] of next) {
      const before = devices.get(name);
      if (before === undefined) added.set(name, props);
      else if (JSON.stringify(before) !== JSON.stringify(props)) changed.set(name, props);
    }
    const removed = [...devices.keys()].filter((name) => !next.has(name));
    devices = next;
    if (added.size + changed.size + removed.length > 0) o.onChange({ added, changed, removed }, devices);
  };

  let pending: NodeJS.Timeout | undefined;
  const soon = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      scan();
    }, SETTLE_MS);
  };
  scan();
  const watcher = watch(o.dir, soon);
  watcher.on("error", () => watcher.close()); // the directory went away: the rescan carries on
  const rescan = setInterval(scan, o.rescanMs ?? 1_000);
  return {
    get devices() {
      return devices;
    },
    close() {
      watcher.close();
      clearInterval(rescan);
      if (pending) clearTimeout(pending);
    },
  };
}

/** Reports changes as the agent's device signals. Every device here is of one `kind`. */
export function reportDevices(agent: Agent, kind: string, changes: DeviceChanges): void {
  for (const [id, props] of changes.added) agent.device.added(id, kind, props);
  for (const [id, props] of changes.changed) agent.device.changed(id, kind, props);
  for (const id of changes.removed) agent.device.removed(id, kind);
}

function parseProps(text: string): DeviceProps | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const props: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return undefined;
    props[k] = v;
  }
  return props;
}
