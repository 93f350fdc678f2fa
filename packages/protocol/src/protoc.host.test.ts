// HostFrame and HostControl against protoc, both ways, every case (see protoc.test.ts:
// protoc must be installed). The text is protoc's own output for the sample frames of
// test/host.ts; protoc encoding the same text must decode here to their checked shapes.
import { describe, expect, it } from "vitest";
import { decodeText, encodeText } from "../test/helpers.js";
import { hostControls, hostFrames, moreHostControls, moreHostFrames } from "../test/host.js";
import { decodeHostControl, decodeHostFrame, encodeHostControl, encodeHostFrame } from "./host-codec.js";

const frameText: Record<keyof typeof hostFrames | keyof typeof moreHostFrames, string> = {
  hello: `hello {
  min_version: 1
  max_version: 2
  host_id: "rack3-node7"
  credential: "c3cr3t"
  capacity {
    cpus: 64
    memory_bytes: 1099511627776
  }
  features: "kvm"
  features: "hotplug-nic"
  drivers: "process"
  drivers: "libvirt"
  network: "openvswitch bridge froctal0"
}
`,
  outcome: `outcome {
  key: "start:web-3"
  code: "FROCTAL_E_CONFIG"
  reason: "no such image"
}
`,
  event: `event {
  instance_id: "web-3"
  exited {
    requested: true
    code: 143
    detail: "SIGTERM handled"
  }
}
`,
  inventory: `inventory {
  request_id: 1099511627777
  guests {
    instance_id: "web-1"
    fleet: "shop"
    fleet_id: "0123456789abcdef0123456789abcdef"
    service: "web"
    state: GUEST_STATE_RUNNING
  }
  guests {
    instance_id: "db-1"
    fleet: "shop"
    service: "db"
    state: GUEST_STATE_PAUSED
  }
}
`,
  "an ok outcome": `outcome {
  key: "stop:web-3"
  ok: true
}
`,
  "a started event": `event {
  instance_id: "web-3"
  started {
    detail: "pid 4242"
  }
}
`,
  "an exit with no code (-1)": `event {
  instance_id: "vm-1"
  exited {
    code: -1
    detail: "domain crashed"
  }
}
`,
  // proto3 sends no zeros: an all-default case is an empty message, still present.
  "an empty unasked inventory": "inventory {\n}\n",
};

const controlText: Record<keyof typeof hostControls | keyof typeof moreHostControls, string> = {
  welcome: `welcome {
  version: 1
  session_id: "sess-1"
  fleet: "shop"
  fleet_id: "0123456789abcdef0123456789abcdef"
  max_frame_bytes: 1048576
}
`,
  refuse: `refuse {
  code: "FROCTAL_E_AUTH"
  reason: "wrong credential"
  retry_after_ms: 250
}
`,
  action: `action {
  key: "start:web-3"
  start {
    instance_id: "web-3"
    fleet: "shop"
    fleet_id: "0123456789abcdef0123456789abcdef"
    service: "web"
    env {
      key: "FROCTAL_INSTANCE_ID"
      value: "web-3"
    }
    env {
      key: "PORT"
      value: "8080"
    }
    args: "--port"
    args: "8080"
    image: "apps/web/main.js"
  }
}
`,
  list: `list {
  request_id: 7
  fleet: "shop"
  fleet_id: "0123456789abcdef0123456789abcdef"
}
`,
  "a start with a command": `action {
  key: "start:sh-1"
  start {
    instance_id: "sh-1"
    fleet: "shop"
    fleet_id: "0123456789abcdef0123456789abcdef"
    service: "sh"
    command: "/bin/sh"
    command: "-c"
    command: "exec guest"
  }
}
`,
  "a stop": `action {
  key: "stop:web-3"
  stop {
    instance_id: "web-3"
    grace_ms: 5000
  }
}
`,
  "a network prepare": `action {
  key: "network-prepare:7"
  network_prepare {
    generation: 7
    services {
      key: "web"
      value {
        vip: "10.77.0.10"
        port: 8080
        backends: "web-1"
        backends: "web-2"
      }
    }
    routes {
      prefix: "10.9.0.0/16"
      via: "router-b"
    }
  }
}
`,
  "a network commit": `action {
  key: "network-commit:7"
  network_commit {
    generation: 7
  }
}
`,
  "a network abort": `action {
  key: "network-abort:8"
  network_abort {
    generation: 8
  }
}
`,
};

const frames = Object.entries({ ...hostFrames, ...moreHostFrames }).map(
  ([name, sample]) => [name, sample, frameText[name as keyof typeof frameText]] as const,
);
const controls = Object.entries({ ...hostControls, ...moreHostControls }).map(
  ([name, sample]) => [name, sample, controlText[name as keyof typeof controlText]] as const,
);

describe("HostFrame encoded here, decoded by protoc", () => {
  it.each(frames)("%s", (_name, { wire }, text) => {
    expect(decodeText("HostFrame", "host.proto", encodeHostFrame(wire))).toBe(text);
  });
});

describe("HostFrame encoded by protoc, decoded here", () => {
  it.each(frames)("%s", (_name, { checked }, text) => {
    expect(decodeHostFrame(encodeText("HostFrame", "host.proto", text))).toStrictEqual(checked);
  });
});

describe("HostControl encoded here, decoded by protoc", () => {
  it.each(controls)("%s", (_name, { wire }, text) => {
    expect(decodeText("HostControl", "host.proto", encodeHostControl(wire))).toBe(text);
  });
});

describe("HostControl encoded by protoc, decoded here", () => {
  it.each(controls)("%s", (_name, { checked }, text) => {
    expect(decodeHostControl(encodeText("HostControl", "host.proto", text))).toStrictEqual(checked);
  });
});

describe("coverage", () => {
  it("has every HostFrame and HostControl case, and every inner oneof case", () => {
    const cases = (samples: readonly (readonly [string, { readonly checked: object }, string])[]) =>
      [...new Set(samples.map(([, { checked }]) => JSON.stringify(inner(checked))))].sort();
    expect(cases(frames)).toEqual(
      ['"hello"', '"inventory"', '"outcome"', '["event","exited"]', '["event","started"]'].sort(),
    );
    expect(cases(controls)).toEqual(
      [
        '"list"',
        '"refuse"',
        '"welcome"',
        '["action","start"]',
        '["action","stop"]',
        '["action","networkPrepare"]',
        '["action","networkCommit"]',
        '["action","networkAbort"]',
      ].sort(),
    );
  });
});

/** The frame case, and for an event or an action its kind too. */
function inner(checked: object): string | [string, string] {
  const { frame } = checked as { frame: string };
  const body = (checked as Record<string, { kind?: string }>)[frame];
  return body?.kind === undefined ? frame : [frame, body.kind];
}
