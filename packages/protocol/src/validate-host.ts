/**
 * Checks decoded host frames (host.proto) against the contract, with the same
 * rules and sentences as validate.ts (check.ts), and returns them as the
 * shapes of host-frames.ts. Everything a host frame names ends up in a
 * driver call, a file path or a child's environment, so ids keep to a safe
 * charset and every list has a bound.
 */
import { isErrorCode } from "@froctal/primitives";
import { Check, checkRefuse, ID, NAME } from "./check.js";
import type {
  CheckedHostControl,
  CheckedHostFrame,
  HostAction,
  HostGuest,
  HostGuestEvent,
  HostGuestState,
  HostHello,
  HostNetworkPrepare,
  HostOutcome,
  HostStart,
} from "./host-frames.js";
import type { Limits } from "./limits.js";
import { GuestState, type HostControl, type HostFrame } from "./wire.js";

/** A fleet id: 128 random bits as 32 lowercase hex digits. */
const FLEET_ID = /^[0-9a-f]{32}$/;
const FLEET_ID_LENGTH = 32;
/** An environment variable name as POSIX spells it (and every shell can set). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The exit code a guest without one (killed by a signal, a domain) reports. */
const NO_EXIT_CODE = -1;
const MAX_EXIT_CODE = 255;

const STATES: Readonly<Record<number, HostGuestState>> = {
  [GuestState.GUEST_STATE_RUNNING]: "running",
  [GuestState.GUEST_STATE_STOPPED]: "stopped",
  [GuestState.GUEST_STATE_CRASHED]: "crashed",
  [GuestState.GUEST_STATE_PAUSED]: "paused",
};

type Sub<M, K extends keyof M> = NonNullable<M[K]>;

export function validateHostFrame(frame: HostFrame, limits: Limits): CheckedHostFrame {
  const c = new Check(limits);
  const kind = c.oneCase("frame", frame, ["hello", "outcome", "event", "inventory"] as const);
  switch (kind) {
    case "hello":
      return { frame: kind, hello: checkHello(c, frame.hello!) };
    case "outcome":
      return { frame: kind, outcome: checkOutcome(c, frame.outcome!) };
    case "event":
      return { frame: kind, event: checkEvent(c, frame.event!) };
    case "inventory": {
      const inv = frame.inventory!;
      const guests = inv.guests ?? [];
      c.uint("inventory.request_id", inv.requestId ?? 0);
      c.count("inventory.guests", guests, limits.maxInventoryGuests);
      return {
        frame: kind,
        inventory: {
          requestId: inv.requestId ?? 0,
          guests: guests.map((g, i) => checkGuest(c, `inventory.guests[${i}]`, g)),
        },
      };
    }
  }
}

export function validateHostControl(frame: HostControl, limits: Limits): CheckedHostControl {
  const c = new Check(limits);
  const kind = c.oneCase("frame", frame, ["welcome", "refuse", "action", "list"] as const);
  switch (kind) {
    case "welcome": {
      const w = frame.welcome!;
      c.atLeast("welcome.version", w.version ?? 0, 1);
      c.text("welcome.session_id", w.sessionId ?? "", limits.maxNameLength);
      c.filled("welcome.fleet", w.fleet ?? "", limits.maxNameLength);
      fleetId(c, "welcome.fleet_id", w.fleetId ?? "");
      c.uint("welcome.max_frame_bytes", w.maxFrameBytes ?? 0);
      const welcome = {
        version: w.version ?? 0,
        sessionId: w.sessionId ?? "",
        fleet: w.fleet ?? "",
        fleetId: w.fleetId ?? "",
        maxFrameBytes: w.maxFrameBytes ?? 0,
      };
      return { frame: kind, welcome };
    }
    case "refuse": {
      const r = frame.refuse!;
      const refuse = {
        code: r.code ?? "",
        reason: r.reason ?? "",
        retryable: r.retryable === true,
        retryAfterMs: r.retryAfterMs ?? 0,
      };
      checkRefuse(c, refuse);
      return { frame: kind, refuse };
    }
    case "action":
      return { frame: kind, action: checkAction(c, frame.action!) };
    case "list": {
      const l = frame.list!;
      // 0 would read as the unasked inventory: a request's answer must be told apart.
      c.atLeast("list.request_id", l.requestId ?? 0, 1);
      c.filled("list.fleet", l.fleet ?? "", limits.maxNameLength);
      fleetId(c, "list.fleet_id", l.fleetId ?? "");
      return { frame: kind, list: { requestId: l.requestId ?? 0, fleet: l.fleet ?? "", fleetId: l.fleetId ?? "" } };
    }
  }
}

function checkHello(c: Check, h: Sub<HostFrame, "hello">): HostHello {
  c.atLeast("hello.min_version", h.minVersion ?? 0, 1);
  c.atLeast("hello.max_version", h.maxVersion ?? 0, 1);
  if ((h.minVersion ?? 0) > (h.maxVersion ?? 0)) c.fail("hello.min_version", "is above max_version");
  c.pattern("hello.host_id", h.hostId ?? "", ID, "host id");
  c.filled("hello.credential", h.credential ?? "");
  const capacity = h.capacity;
  if (!capacity) c.fail("hello.capacity", "is missing");
  c.atLeast("hello.capacity.cpus", capacity.cpus ?? 0, 1);
  c.atLeast("hello.capacity.memory_bytes", capacity.memoryBytes ?? 0, 1);
  const features = names(c, "hello.features", h.features ?? [], "feature name");
  const drivers = names(c, "hello.drivers", h.drivers ?? [], "driver name");
  c.text("hello.network", h.network ?? "", c.limits.maxNameLength);
  return {
    minVersion: h.minVersion ?? 0,
    maxVersion: h.maxVersion ?? 0,
    hostId: h.hostId ?? "",
    credential: h.credential ?? "",
    capacity: { cpus: capacity.cpus ?? 0, memoryBytes: capacity.memoryBytes ?? 0 },
    features,
    drivers,
    network: h.network ?? "",
  };
}

function checkOutcome(c: Check, o: Sub<HostFrame, "outcome">): HostOutcome {
  const key = o.key ?? "";
  const code = o.code ?? "";
  const reason = o.reason ?? "";
  c.filled("outcome.key", key, c.limits.maxNameLength);
  // No tighter bound than text: a known code is checked by name below, whatever its length.
  c.text("outcome.code", code);
  c.text("outcome.reason", reason);
  if (o.ok === true) {
    if (code !== "") c.fail("outcome.code", `must be empty when ok is true, not ${JSON.stringify(code)}`);
    if (reason !== "") c.fail("outcome.reason", "must be empty when ok is true");
    return { key, ok: true, code: "", reason: "" };
  }
  if (!isErrorCode(code))
    c.fail("outcome.code", `is not a FROCTAL_E_* code this version knows: ${JSON.stringify(code)}`);
  if (reason === "") c.fail("outcome.reason", "is empty; a failed action must say why");
  return { key, ok: false, code, reason };
}

function checkEvent(c: Check, e: Sub<HostFrame, "event">): HostGuestEvent {
  const instanceId = e.instanceId ?? "";
  c.pattern("event.instance_id", instanceId, ID, "instance id");
  const kind = c.oneCase("event", e, ["started", "exited"] as const, "kind");
  switch (kind) {
    case "started": {
      const detail = e.started!.detail ?? "";
      c.text("event.started.detail", detail);
      return { instanceId, kind, detail };
    }
    case "exited": {
      const x = e.exited!;
      const code = x.code ?? 0;
      const detail = x.detail ?? "";
      if (!Number.isInteger(code) || code < NO_EXIT_CODE || code > MAX_EXIT_CODE) {
        c.fail("event.exited.code", `must be -1 (none) or 0..${MAX_EXIT_CODE}, not ${String(code)}`);
      }
      c.text("event.exited.detail", detail);
      return {
        instanceId,
        kind,
        requested: x.requested === true,
        code: code === NO_EXIT_CODE ? null : code,
        detail,
      };
    }
  }
}

function checkAction(c: Check, a: Sub<HostControl, "action">): HostAction {
  const key = a.key ?? "";
  c.filled("action.key", key, c.limits.maxNameLength);
  const kind = c.oneCase(
    "action",
    a,
    ["start", "stop", "networkPrepare", "networkCommit", "networkAbort"] as const,
    "kind",
  );
  switch (kind) {
    case "start":
      return { key, kind, start: checkStart(c, a.start!) };
    case "networkPrepare":
      return { key, kind, networkPrepare: checkNetworkPrepare(c, a.networkPrepare!) };
    case "networkCommit":
    case "networkAbort": {
      const generation = Number(a[kind]!.generation ?? 0);
      c.atLeast(`action.${kind === "networkCommit" ? "network_commit" : "network_abort"}.generation`, generation, 1);
      return kind === "networkCommit"
        ? { key, kind, networkCommit: { generation } }
        : { key, kind, networkAbort: { generation } };
    }
    case "stop": {
      const s = a.stop!;
      c.pattern("action.stop.instance_id", s.instanceId ?? "", ID, "instance id");
      c.uint("action.stop.grace_ms", s.graceMs ?? 0);
      return { key, kind, stop: { instanceId: s.instanceId ?? "", graceMs: s.graceMs ?? 0 } };
    }
  }
}

function checkStart(c: Check, s: Sub<Sub<HostControl, "action">, "start">): HostStart {
  const { limits } = c;
  const at = "action.start";
  c.pattern(`${at}.instance_id`, s.instanceId ?? "", ID, "instance id");
  c.filled(`${at}.fleet`, s.fleet ?? "", limits.maxNameLength);
  fleetId(c, `${at}.fleet_id`, s.fleetId ?? "");
  c.filled(`${at}.service`, s.service ?? "", limits.maxNameLength);
  const env = s.env ?? {};
  const keys = Object.keys(env);
  c.count(`${at}.env`, keys, limits.maxProperties);
  for (const k of keys) {
    c.pattern(`${at}.env key`, k, ENV_NAME, "environment variable name");
    c.text(`${at}.env[${JSON.stringify(k)}]`, env[k]);
  }
  const args = strings(c, `${at}.args`, s.args ?? []);
  const image = s.image ?? "";
  const command = strings(c, `${at}.command`, s.command ?? []);
  c.text(`${at}.image`, image);
  if (image !== "" && command.length > 0) c.fail(at, "sets both image and command; exactly one may be set");
  if (image === "" && command.length === 0) c.fail(at, "sets neither image nor command; exactly one must be set");
  if (command.length > 0 && command[0] === "") c.fail(`${at}.command[0]`, "is empty; it names the executable");
  // The decoded map, not a copy: protobufjs made every key (even "__proto__") an own property.
  const base = {
    instanceId: s.instanceId ?? "",
    fleet: s.fleet ?? "",
    fleetId: s.fleetId ?? "",
    service: s.service ?? "",
    env,
    args,
  };
  return command.length > 0 ? { ...base, command } : { ...base, image };
}

/** The fleet's network state for this host: names, addresses and ids bounded; what they mean the host's network checks. */
function checkNetworkPrepare(c: Check, p: Sub<Sub<HostControl, "action">, "networkPrepare">): HostNetworkPrepare {
  const at = "action.network_prepare";
  const generation = Number(p.generation ?? 0);
  c.atLeast(`${at}.generation`, generation, 1);
  const wireServices = p.services ?? {};
  const serviceNames = Object.keys(wireServices);
  c.count(`${at}.services`, serviceNames, c.limits.maxProperties);
  const services: Record<string, { vip: string; port: number; backends: readonly string[] }> = {};
  for (const name of serviceNames) {
    const s = wireServices[name]!;
    const path = `${at}.services[${JSON.stringify(name)}]`;
    c.pattern(`${at}.services key`, name, NAME, "service name");
    c.filled(`${path}.vip`, s.vip ?? "", c.limits.maxNameLength);
    c.atLeast(`${path}.port`, s.port ?? 0, 1);
    if ((s.port ?? 0) > 65_535) c.fail(`${path}.port`, `is ${s.port}, not a TCP port (1..65535)`);
    const backends = s.backends ?? [];
    c.count(`${path}.backends`, backends, c.limits.maxInventoryGuests);
    backends.forEach((id, i) => {
      c.pattern(`${path}.backends[${i}]`, id, ID, "instance id");
    });
    services[name] = { vip: s.vip ?? "", port: s.port ?? 0, backends };
  }
  const wireRoutes = p.routes ?? [];
  c.count(`${at}.routes`, wireRoutes, c.limits.maxInventoryGuests);
  const routes = wireRoutes.map((r, i) => {
    c.filled(`${at}.routes[${i}].prefix`, r.prefix ?? "", c.limits.maxNameLength);
    c.pattern(`${at}.routes[${i}].via`, r.via ?? "", ID, "instance id");
    return { prefix: r.prefix ?? "", via: r.via ?? "" };
  });
  return { generation, desired: { services, routes } };
}

type WireGuest = NonNullable<Sub<HostFrame, "inventory">["guests"]>[number];

function checkGuest(c: Check, at: string, g: WireGuest): HostGuest {
  c.pattern(`${at}.instance_id`, g.instanceId ?? "", ID, "instance id");
  c.filled(`${at}.fleet`, g.fleet ?? "", c.limits.maxNameLength);
  // Empty: a guest an earlier froctal marked with the fleet's name only.
  if ((g.fleetId ?? "") !== "") fleetId(c, `${at}.fleet_id`, g.fleetId);
  c.filled(`${at}.service`, g.service ?? "", c.limits.maxNameLength);
  const state = g.state ?? GuestState.GUEST_STATE_UNSPECIFIED;
  c.enumValue(`${at}.state`, state, GuestState.GUEST_STATE_PAUSED);
  return {
    instanceId: g.instanceId ?? "",
    fleet: g.fleet ?? "",
    fleetId: g.fleetId ?? "",
    service: g.service ?? "",
    state: STATES[state]!,
  };
}

function fleetId(c: Check, path: string, value: unknown): void {
  c.filled(path, value, FLEET_ID_LENGTH);
  if (!FLEET_ID.test(value as string)) {
    c.fail(path, `is not a fleet id (32 lowercase hex digits): ${JSON.stringify(value)}`);
  }
}

function names(c: Check, path: string, list: readonly string[], what: string): readonly string[] {
  c.count(path, list, c.limits.maxProperties);
  list.forEach((name, i) => {
    c.pattern(`${path}[${i}]`, name, NAME, what);
  });
  return list;
}

/** Arguments and commands: a bounded list of bounded strings. */
function strings(c: Check, path: string, list: readonly string[]): readonly string[] {
  c.count(path, list, c.limits.maxProperties);
  list.forEach((s, i) => {
    c.text(`${path}[${i}]`, s);
  });
  return list;
}
