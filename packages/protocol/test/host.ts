/**
 * What the host contract's tests share (host.proto): a sample of every frame
 * case both ways with the checked shape it must decode to, and frames at the
 * small test limits (helpers.ts LIMITS) that the validation tests break one
 * field at a time.
 */
import { decodeHostControl, decodeHostFrame, encodeHostControl, encodeHostFrame } from "../src/host-codec.js";
import type { CheckedHostControl, CheckedHostFrame } from "../src/host-frames.js";
import { GuestState, type HostControl, type HostFrame } from "../src/wire.js";
import { LIMITS, long } from "./helpers.js";

export const FLEET_ID = "0123456789abcdef0123456789abcdef";

type Sample<W, C> = { readonly wire: W; readonly checked: C };

// ---- every case, every field set (codec and protoc tests) ------------------------

export const hostFrames = {
  hello: {
    wire: {
      hello: {
        minVersion: 1,
        maxVersion: 2,
        hostId: "rack3-node7",
        credential: "c3cr3t",
        capacity: { cpus: 64, memoryBytes: 2 ** 40 },
        features: ["kvm", "hotplug-nic"],
        drivers: ["process", "libvirt"],
        network: "openvswitch bridge froctal0",
      },
    },
    checked: {
      frame: "hello",
      hello: {
        minVersion: 1,
        maxVersion: 2,
        hostId: "rack3-node7",
        credential: "c3cr3t",
        capacity: { cpus: 64, memoryBytes: 2 ** 40 },
        features: ["kvm", "hotplug-nic"],
        drivers: ["process", "libvirt"],
        network: "openvswitch bridge froctal0",
      },
    },
  },
  outcome: {
    wire: { outcome: { key: "start:web-3", ok: false, code: "FROCTAL_E_CONFIG", reason: "no such image" } },
    checked: {
      frame: "outcome",
      outcome: { key: "start:web-3", ok: false, code: "FROCTAL_E_CONFIG", reason: "no such image" },
    },
  },
  event: {
    wire: { event: { instanceId: "web-3", exited: { requested: true, code: 143, detail: "SIGTERM handled" } } },
    checked: {
      frame: "event",
      event: { instanceId: "web-3", kind: "exited", requested: true, code: 143, detail: "SIGTERM handled" },
    },
  },
  inventory: {
    wire: {
      inventory: {
        requestId: 2 ** 40 + 1,
        guests: [
          {
            instanceId: "web-1",
            fleet: "shop",
            fleetId: FLEET_ID,
            service: "web",
            state: GuestState.GUEST_STATE_RUNNING,
          },
          { instanceId: "db-1", fleet: "shop", fleetId: "", service: "db", state: GuestState.GUEST_STATE_PAUSED },
        ],
      },
    },
    checked: {
      frame: "inventory",
      inventory: {
        requestId: 2 ** 40 + 1,
        guests: [
          { instanceId: "web-1", fleet: "shop", fleetId: FLEET_ID, service: "web", state: "running" },
          { instanceId: "db-1", fleet: "shop", fleetId: "", service: "db", state: "paused" },
        ],
      },
    },
  },
} satisfies Record<NonNullable<HostFrame["frame"]>, Sample<HostFrame, CheckedHostFrame>>;

export const hostControls = {
  welcome: {
    wire: { welcome: { version: 1, sessionId: "sess-1", fleet: "shop", fleetId: FLEET_ID, maxFrameBytes: 1 << 20 } },
    checked: {
      frame: "welcome",
      welcome: { version: 1, sessionId: "sess-1", fleet: "shop", fleetId: FLEET_ID, maxFrameBytes: 1 << 20 },
    },
  },
  refuse: {
    wire: { refuse: { code: "FROCTAL_E_AUTH", reason: "wrong credential", retryable: false, retryAfterMs: 250 } },
    checked: {
      frame: "refuse",
      refuse: { code: "FROCTAL_E_AUTH", reason: "wrong credential", retryable: false, retryAfterMs: 250 },
    },
  },
  action: {
    wire: {
      action: {
        key: "start:web-3",
        start: {
          instanceId: "web-3",
          fleet: "shop",
          fleetId: FLEET_ID,
          service: "web",
          env: { FROCTAL_INSTANCE_ID: "web-3", PORT: "8080" },
          args: ["--port", "8080"],
          image: "apps/web/main.js",
        },
      },
    },
    checked: {
      frame: "action",
      action: {
        key: "start:web-3",
        kind: "start",
        start: {
          instanceId: "web-3",
          fleet: "shop",
          fleetId: FLEET_ID,
          service: "web",
          env: { FROCTAL_INSTANCE_ID: "web-3", PORT: "8080" },
          args: ["--port", "8080"],
          image: "apps/web/main.js",
        },
      },
    },
  },
  list: {
    wire: { list: { requestId: 7, fleet: "shop", fleetId: FLEET_ID } },
    checked: { frame: "list", list: { requestId: 7, fleet: "shop", fleetId: FLEET_ID } },
  },
} satisfies Record<NonNullable<HostControl["frame"]>, Sample<HostControl, CheckedHostControl>>;

/** The other branch of each inner oneof, and the values the wire spells differently. */
export const moreHostFrames = {
  "an ok outcome": {
    wire: { outcome: { key: "stop:web-3", ok: true } },
    checked: { frame: "outcome", outcome: { key: "stop:web-3", ok: true, code: "", reason: "" } },
  },
  "a started event": {
    wire: { event: { instanceId: "web-3", started: { detail: "pid 4242" } } },
    checked: { frame: "event", event: { instanceId: "web-3", kind: "started", detail: "pid 4242" } },
  },
  "an exit with no code (-1)": {
    wire: { event: { instanceId: "vm-1", exited: { requested: false, code: -1, detail: "domain crashed" } } },
    checked: {
      frame: "event",
      event: { instanceId: "vm-1", kind: "exited", requested: false, code: null, detail: "domain crashed" },
    },
  },
  "an empty unasked inventory": {
    wire: { inventory: {} },
    checked: { frame: "inventory", inventory: { requestId: 0, guests: [] } },
  },
} satisfies Record<string, Sample<HostFrame, CheckedHostFrame>>;

export const moreHostControls = {
  "a start with a command": {
    wire: {
      action: {
        key: "start:sh-1",
        start: {
          instanceId: "sh-1",
          fleet: "shop",
          fleetId: FLEET_ID,
          service: "sh",
          command: ["/bin/sh", "-c", "exec guest"],
        },
      },
    },
    checked: {
      frame: "action",
      action: {
        key: "start:sh-1",
        kind: "start",
        start: {
          instanceId: "sh-1",
          fleet: "shop",
          fleetId: FLEET_ID,
          service: "sh",
          env: {},
          args: [],
          command: ["/bin/sh", "-c", "exec guest"],
        },
      },
    },
  },
  "a stop": {
    wire: { action: { key: "stop:web-3", stop: { instanceId: "web-3", graceMs: 5000 } } },
    checked: {
      frame: "action",
      action: { key: "stop:web-3", kind: "stop", stop: { instanceId: "web-3", graceMs: 5000 } },
    },
  },
  "a network prepare": {
    wire: {
      action: {
        key: "network-prepare:7",
        networkPrepare: {
          generation: 7,
          services: { web: { vip: "10.77.0.10", port: 8080, backends: ["web-1", "web-2"] } },
          routes: [{ prefix: "10.9.0.0/16", via: "router-b" }],
        },
      },
    },
    checked: {
      frame: "action",
      action: {
        key: "network-prepare:7",
        kind: "networkPrepare",
        networkPrepare: {
          generation: 7,
          desired: {
            services: { web: { vip: "10.77.0.10", port: 8080, backends: ["web-1", "web-2"] } },
            routes: [{ prefix: "10.9.0.0/16", via: "router-b" }],
          },
        },
      },
    },
  },
  "a network commit": {
    wire: { action: { key: "network-commit:7", networkCommit: { generation: 7 } } },
    checked: {
      frame: "action",
      action: { key: "network-commit:7", kind: "networkCommit", networkCommit: { generation: 7 } },
    },
  },
  "a network abort": {
    wire: { action: { key: "network-abort:8", networkAbort: { generation: 8 } } },
    checked: {
      frame: "action",
      action: { key: "network-abort:8", kind: "networkAbort", networkAbort: { generation: 8 } },
    },
  },
} satisfies Record<string, Sample<HostControl, CheckedHostControl>>;

// ---- frames at the test limits (validation tests) --------------------------------

type Wire<M, K extends keyof M> = NonNullable<M[K]>;
export type WireHello = Wire<HostFrame, "hello">;
export type WireStart = NonNullable<Wire<HostControl, "action">["start"]>;
export type WireGuest = NonNullable<Wire<HostFrame, "inventory">["guests"]>[number];

export const hostHello = (): WireHello => ({
  minVersion: 1,
  maxVersion: 1,
  hostId: `a.b:c@d_e-${long(6, "f")}`,
  credential: long(32, "c"),
  capacity: { cpus: 1, memoryBytes: Number.MAX_SAFE_INTEGER },
  features: ["kvm", long(16, "x")],
  drivers: ["process", "a.b:c_d-e"],
});

export const start = (): WireStart => ({
  instanceId: long(16, "i"),
  fleet: long(16, "f"),
  fleetId: FLEET_ID,
  service: long(16, "s"),
  env: { [long(16, "K")]: long(32, "v"), _a1: "" },
  args: [long(32), ""],
  image: long(32, "m"),
});

export const guest = (): WireGuest => ({
  instanceId: long(16, "i"),
  fleet: long(16, "f"),
  fleetId: "",
  service: long(16, "s"),
  state: GuestState.GUEST_STATE_CRASHED,
});

/** Through the wire at the test limits: encode, then decode (which validates). */
export const hostFrame = (frame: HostFrame) => decodeHostFrame(encodeHostFrame(frame), LIMITS);
export const hostControl = (frame: HostControl) => decodeHostControl(encodeHostControl(frame), LIMITS);

/** The valid frame with some fields replaced. */
export const withHostHello = (change: Partial<WireHello>): HostFrame => ({ hello: { ...hostHello(), ...change } });
export const withStart = (change: Partial<WireStart>): HostControl => ({
  action: { key: "start:x", start: { ...start(), ...change } },
});
export const withGuest = (change: Partial<WireGuest>): HostFrame => ({
  inventory: { requestId: 1, guests: [{ ...guest(), ...change }] },
});
