// AgentFrame against protoc, both ways (see protoc.test.ts: protoc must be installed).
import { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { decodeText, encodeText, fromProtoc, narrow } from "../test/helpers.js";
import { decodeAgentFrame, encodeAgentFrame } from "./codec.js";
import { ConfigAckStatus, DeviceChange, LifecyclePhase, MetricKind } from "./wire.js";

describe("AgentFrame encoded by protoc, decoded here", () => {
  it("reads a hello with build info", () => {
    const { hello } = narrow(
      fromProtoc(`
        hello {
          min_version: 1
          max_version: 3
          instance_id: "web-1"
          token: "t0k3n"
          build {
            app: "web"
            app_version: "1.2.3"
            agent_version: "0.1.0"
            features: "tls"
            features: "hotplug-nic"
            platform: "node-20.20 linux x64"
          }
          stream_id: "stream-a"
        }`),
      "hello",
    );
    expect(hello).toMatchObject({
      minVersion: 1,
      maxVersion: 3,
      instanceId: "web-1",
      token: "t0k3n",
      streamId: "stream-a",
      runningGeneration: 0, // absent on the wire: proto3 sends no zeros
    });
    expect(hello.build).toMatchObject({
      app: "web",
      appVersion: "1.2.3",
      agentVersion: "0.1.0",
      platform: "node-20.20 linux x64",
    });
    expect(hello.build.features).toEqual(["tls", "hotplug-nic"]);
  });

  it("reads a 64-bit running generation as a plain number", () => {
    const { hello } = narrow(
      fromProtoc(
        `hello { min_version: 1 max_version: 1 instance_id: "i" stream_id: "s" running_generation: 9007199254740991 }`,
      ),
      "hello",
    );
    expect(hello.runningGeneration).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("reads a batch with events of every kind, metric declarations and packed samples", () => {
    const bytes = encodeText(
      "AgentFrame",
      "agent.proto",
      String.raw`
        batch {
          first_seq: 41
          sent_at_ms: 1700000000123
          events {
            at_ms: 1700000000001
            device {
              change: DEVICE_CHANGE_ADDED
              device_id: "eth1"
              kind: "nic"
              properties { key: "speed_mbps" value: "10000" }
              properties { key: "mac" value: "52:54:00:12:34:56" }
              properties { key: "__proto__" value: "polluted?" }
              properties { key: "toString" value: "not a function" }
            }
          }
          events {
            at_ms: 1700000000002
            lifecycle {
              phase: LIFECYCLE_PHASE_EXITED
              task: "migrate"
              detail: "task finished"
              result { ok: false code: -3 value_json: "{\"rows\":3}" error: "disk full" }
            }
          }
          events {
            at_ms: 1700000000003
            app { name: "cache.miss" payload: "\000\001\377" media_type: "application/octet-stream" }
          }
          metric_decls { id: 1 name: "load" kind: METRIC_KIND_GAUGE unit: "1/s" }
          metric_decls { id: 300 name: "requests_total" kind: METRIC_KIND_COUNTER }
          metric_ids: [1, 300, 1]
          metric_values: [0.5, 123456789, -1e-300]
        }`,
    );
    // protoc packed the samples (proto3's default): field 4, 4 bytes: 01 ac02 01.
    expect(Buffer.from(bytes).includes(Buffer.from([0x22, 0x04, 0x01, 0xac, 0x02, 0x01]))).toBe(true);

    const { batch } = narrow(decodeAgentFrame(bytes), "batch");
    expect(batch.firstSeq).toBe(41);
    expect(batch.sentAtMs).toBe(1_700_000_000_123);
    expect(batch.events.map((e) => [e.kind, e.atMs])).toEqual([
      ["device", 1_700_000_000_001],
      ["lifecycle", 1_700_000_000_002],
      ["app", 1_700_000_000_003],
    ]);
    const [device, lifecycle, app] = batch.events;
    if (device?.kind !== "device" || lifecycle?.kind !== "lifecycle" || app?.kind !== "app") {
      throw new Error("events decoded in the wrong order");
    }
    expect(device.device).toMatchObject({ change: DeviceChange.DEVICE_CHANGE_ADDED, deviceId: "eth1", kind: "nic" });
    const props = device.device.properties;
    expect(Object.keys(props).sort()).toEqual(["__proto__", "mac", "speed_mbps", "toString"]);
    expect(props.speed_mbps).toBe("10000");
    expect(props.mac).toBe("52:54:00:12:34:56");
    expect(Object.getOwnPropertyDescriptor(props, "__proto__")?.value).toBe("polluted?");
    expect(Object.getOwnPropertyDescriptor(props, "toString")?.value).toBe("not a function");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    expect(lifecycle.lifecycle).toMatchObject({
      phase: LifecyclePhase.LIFECYCLE_PHASE_EXITED,
      task: "migrate",
      detail: "task finished",
      result: { ok: false, code: -3, valueJson: '{"rows":3}', error: "disk full" },
    });
    expect(app.app.name).toBe("cache.miss");
    expect(Array.from(app.app.payload)).toEqual([0, 1, 255]);
    expect(app.app.mediaType).toBe("application/octet-stream");

    expect(batch.metricDecls).toHaveLength(2);
    expect(batch.metricDecls[0]).toMatchObject({
      id: 1,
      name: "load",
      kind: MetricKind.METRIC_KIND_GAUGE,
      unit: "1/s",
    });
    expect(batch.metricDecls[1]).toMatchObject({
      id: 300,
      name: "requests_total",
      kind: MetricKind.METRIC_KIND_COUNTER,
      unit: "",
    });
    expect(batch.metricIds).toEqual([1, 300, 1]);
    expect(batch.metricValues).toEqual([0.5, 123456789, -1e-300]);
  });

  it("reads a config ack", () => {
    const { configAck } = narrow(
      fromProtoc(`
        config_ack {
          generation: 12
          nonce: "n-1"
          status: CONFIG_ACK_STATUS_NACKED
          reason: "port 80 is taken"
          running_generation: 11
        }`),
      "configAck",
    );
    expect(configAck).toMatchObject({
      generation: 12,
      nonce: "n-1",
      status: ConfigAckStatus.CONFIG_ACK_STATUS_NACKED,
      reason: "port 80 is taken",
      runningGeneration: 11,
    });
  });

  it("reads a pong", () => {
    expect(narrow(fromProtoc("pong { nonce: 1099511627777 }"), "pong").pong.nonce).toBe(2 ** 40 + 1);
    expect(narrow(fromProtoc("pong { }"), "pong").pong.nonce).toBe(0);
  });

  it("refuses a NaN sample that protoc encodes", () => {
    let error: unknown;
    try {
      fromProtoc(
        `batch { metric_decls { id: 1 name: "load" kind: METRIC_KIND_GAUGE } metric_ids: [1] metric_values: [nan] }`,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FroctalError);
    expect((error as FroctalError).code).toBe("FROCTAL_E_FRAME_INVALID");
    expect((error as FroctalError).sentence).toMatch(/^batch\.metric_values\[0\] /);
  });
});

describe("AgentFrame encoded here survives protoc", () => {
  it("decodes in protoc and comes back the same after protoc encodes it again", () => {
    const frame = {
      batch: {
        firstSeq: 7,
        events: [
          {
            atMs: 1,
            device: {
              change: DeviceChange.DEVICE_CHANGE_REMOVED,
              deviceId: "vdb",
              kind: "block",
              properties: { size: "10G" },
            },
          },
        ],
        metricDecls: [{ id: 2, name: "queue_depth", kind: MetricKind.METRIC_KIND_GAUGE }],
        metricIds: [2],
        metricValues: [3.25],
        sentAtMs: 1_700_000_000_000,
      },
    };
    const text = decodeText("AgentFrame", "agent.proto", encodeAgentFrame(frame));
    expect(text).toContain('device_id: "vdb"');
    expect(text).toContain("change: DEVICE_CHANGE_REMOVED");
    expect(text).toMatch(/metric_values: 3\.25/);
    const { batch } = narrow(fromProtoc(text), "batch");
    expect(batch).toMatchObject({ firstSeq: 7, metricIds: [2], metricValues: [3.25], sentAtMs: 1_700_000_000_000 });
    expect(batch.events[0]).toMatchObject({
      atMs: 1,
      device: {
        change: DeviceChange.DEVICE_CHANGE_REMOVED,
        deviceId: "vdb",
        kind: "block",
        properties: { size: "10G" },
      },
    });
    expect(batch.metricDecls[0]).toMatchObject({ id: 2, name: "queue_depth", kind: MetricKind.METRIC_KIND_GAUGE });
  });
});
