import { FroctalError } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { parseTarget, parseTargets } from "./core/target.js";
import { resolveOptions } from "./options.js";

const env = {
  FROCTAL_MANAGER_URL: "ws://127.0.0.1:7000/agent",
  FROCTAL_INSTANCE_ID: "web-1",
  FROCTAL_TOKEN: "s3cret",
};

function configError(fn: () => unknown): FroctalError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FroctalError);
    expect((err as FroctalError).code).toBe("FROCTAL_E_CONFIG");
    return err as FroctalError;
  }
  throw new Error("expected FROCTAL_E_CONFIG");
}

describe("resolveOptions", () => {
  it("reads the environment the manager gives a guest", () => {
    const o = resolveOptions({ env });
    expect(o.targets).toEqual([{ kind: "websocket", url: "ws://127.0.0.1:7000/agent" }]);
    expect(o.instanceId).toBe("web-1");
    expect(o.token).toBe("s3cret");
    expect(o.buffer).toEqual({ maxEvents: 10_000, maxBytes: 8 << 20, overflow: "reject" });
    expect(o.build.platform).toMatch(/^node-/);
  });

  it("lets options win over the environment", () => {
    const o = resolveOptions({ env, url: "unix:/run/f.sock", instanceId: "web-2", token: "" });
    expect(o.targets).toEqual([{ kind: "unix", path: "/run/f.sock" }]);
    expect(o.instanceId).toBe("web-2");
    expect(o.token).toBe("");
  });

  it("names the missing variable", () => {
    expect(configError(() => resolveOptions({ env: {} })).message).toContain("FROCTAL_MANAGER_URL");
    expect(configError(() => resolveOptions({ env: { FROCTAL_MANAGER_URL: "unix:/x" } })).message).toContain(
      "FROCTAL_INSTANCE_ID",
    );
    expect(configError(() => resolveOptions({ env: { ...env, FROCTAL_TOKEN: undefined } })).message).toContain(
      "FROCTAL_TOKEN",
    );
  });

  it("needs no token on a byte stream, where the channel proves identity", () => {
    expect(resolveOptions({ env: {}, url: "/dev/virtio-ports/froctal", instanceId: "r-1" }).token).toBe("");
  });

  it("names the invalid variable or option", () => {
    expect(configError(() => resolveOptions({ env: { ...env, FROCTAL_MANAGER_URL: "http://x" } })).message).toContain(
      "FROCTAL_MANAGER_URL",
    );
    expect(configError(() => resolveOptions({ env, url: "tcp://x" })).message).toContain("options.url");
    expect(configError(() => resolveOptions({ env: { ...env, FROCTAL_INSTANCE_ID: "-bad id" } })).message).toContain(
      "FROCTAL_INSTANCE_ID",
    );
    expect(configError(() => resolveOptions({ env: { ...env, FROCTAL_TOKEN: "tok\n" } })).message).toContain(
      "FROCTAL_TOKEN",
    );
    expect(configError(() => resolveOptions({ env, flushIntervalMs: -1 })).message).toContain(
      "options.flushIntervalMs",
    );
    expect(configError(() => resolveOptions({ env, buffer: { overflow: "spill" as "reject" } })).message).toContain(
      "options.buffer.overflow",
    );
    expect(configError(() => resolveOptions({ env, build: { features: ["ok", "not ok"] } })).message).toContain(
      "options.build.features",
    );
  });
});

describe("parseTarget", () => {
  it("tells WebSockets, unix sockets and device paths apart", () => {
    expect(parseTarget("wss://m.example:443/a", "x")).toEqual({ kind: "websocket", url: "wss://m.example/a" });
    expect(parseTarget("unix:///run/froctal.sock", "x")).toEqual({ kind: "unix", path: "/run/froctal.sock" });
    expect(parseTarget("unix:relative.sock", "x")).toEqual({ kind: "unix", path: "relative.sock" });
    expect(parseTarget("/dev/vport0p1", "x")).toEqual({ kind: "path", path: "/dev/vport0p1" });
  });

  it("refuses the rest with FROCTAL_E_CONFIG", () => {
    for (const bad of ["", "unix:", "ws://", "dev/vport0p1", "http://h/"]) {
      configError(() => parseTarget(bad, "FROCTAL_MANAGER_URL"));
    }
  });
});

describe("parseTargets", () => {
  const ws = (url: string) => ({ kind: "websocket", url });

  it("reads one address as parseTarget does, and a list of WebSocket addresses in order", () => {
    expect(parseTargets("/dev/vport0p1", "x")).toEqual([{ kind: "path", path: "/dev/vport0p1" }]);
    expect(parseTargets("ws://a:7000/agent,wss://b/agent, ws://c:7000/agent", "x")).toEqual([
      ws("ws://a:7000/agent"),
      ws("wss://b/agent"),
      ws("ws://c:7000/agent"),
    ]);
    expect(parseTargets(["ws://a:7000/agent", "ws://b:7000/agent"], "x")).toEqual([
      ws("ws://a:7000/agent"),
      ws("ws://b:7000/agent"),
    ]);
  });

  it("takes the list from FROCTAL_MANAGER_URL or options.url", () => {
    const list = "ws://m1:7070/agent,ws://m2:7070/agent";
    const fromEnv = resolveOptions({ env: { ...env, FROCTAL_MANAGER_URL: list } });
    expect(fromEnv.targets).toEqual([ws("ws://m1:7070/agent"), ws("ws://m2:7070/agent")]);
    expect(resolveOptions({ env, url: list.split(",") }).targets).toEqual(fromEnv.targets);
  });

  it("refuses a list holding a channel, naming the entry", () => {
    const list = "ws://m1:7070/agent,/dev/virtio-ports/froctal";
    expect(configError(() => resolveOptions({ env: { ...env, FROCTAL_MANAGER_URL: list } })).message).toBe(
      `FROCTAL_E_CONFIG: FROCTAL_MANAGER_URL is not a list of manager addresses (entry 2, "/dev/virtio-ports/froctal", is a channel; only ws:// and wss:// addresses make a list): ${JSON.stringify(list)}; use ws://host:port/path,ws://host2:port/path`,
    );
    expect(configError(() => parseTargets(["unix:/run/f.sock", "ws://m1/agent"], "options.url")).message).toContain(
      'options.url is not a list of manager addresses (entry 1, "unix:/run/f.sock", is a channel;',
    );
  });

  it("refuses empty entries, duplicates, an empty list and a bad entry, naming it", () => {
    const message = (value: string | string[]) => configError(() => parseTargets(value, "FROCTAL_MANAGER_URL")).message;
    expect(message("ws://a/agent,,ws://b/agent")).toContain("(entry 2 is empty)");
    expect(message("ws://a/agent,")).toContain("(entry 2 is empty)");
    expect(message("ws://a:80/agent,ws://b/agent,ws://a/agent")).toContain('(entry 3, "ws://a/agent", is given twice)');
    expect(message([])).toContain("(it is empty)");
    expect(message("ws://a/agent,tcp://b")).toContain(
      "FROCTAL_MANAGER_URL entry 2 is not a manager address (unknown scheme)",
    );
  });
});
