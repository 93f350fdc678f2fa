/** GET /metrics on a running fleet: exact samples for what is known, and `promtool check metrics` on the whole text. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { TICK_BUCKET_BOUNDS_MS } from "@froctal/reactive";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { allReady, app, type RunningFleet, startFleet, webFleet } from "../test/running-fleet.js";
import { histogramText } from "./metrics.js";

/** Unpacked from Debian's prometheus package by tools/setup/ensure.sh --test. */
const promtool = join(app, "../../tools/setup/.cache/promtool");

function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done, failed) => {
    const child = spawn(promtool, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.once("error", failed);
    child.once("close", (code) => done({ code, output }));
    child.stdin.end(text);
  });
}

/**
 * Connects to /agent as a WebSocket and sends one text message ("hi", masked with a zero key) where agents send
 * binary frames: the edge refuses the connection with FROCTAL_E_FRAME_MALFORMED. Resolves once the socket is closed.
 */
function sendTextMessage(port: number): Promise<void> {
  return new Promise((closed, failed) => {
    const socket = connect(port, "127.0.0.1");
    let upgraded = false;
    socket.once("connect", () =>
      socket.write(
        "GET /agent HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    socket.on("data", (chunk: Buffer) => {
      if (upgraded || !chunk.toString("latin1").startsWith("HTTP/1.1 101")) return;
      upgraded = true;
      socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
    });
    socket.once("error", failed);
    socket.once("close", () => (upgraded ? closed() : failed(new Error("the WebSocket upgrade was not answered"))));
  });
}

describe("histogramText", () => {
  test("writes cumulative buckets in seconds, then _sum and _count, from per-bucket counts", () => {
    const metric = { name: "froctal_tick_duration_seconds", help: "How long each tick took." };
    // Ticks per bucket (not cumulative) for bounds 0.1 .. 500 ms, the last past every bound; 1,664.85 ms in all.
    const text = histogramText(metric, TICK_BUCKET_BOUNDS_MS, [2, 1, 1, 1, 1, 1, 0, 1, 2], 1_664.85);
    expect(text).toBe(
      [
        "# HELP froctal_tick_duration_seconds How long each tick took.",
        "# TYPE froctal_tick_duration_seconds histogram",
        'froctal_tick_duration_seconds_bucket{le="0.0001"} 2',
        'froctal_tick_duration_seconds_bucket{le="0.0005"} 3',
        'froctal_tick_duration_seconds_bucket{le="0.001"} 4',
        'froctal_tick_duration_seconds_bucket{le="0.005"} 5',
        'froctal_tick_duration_seconds_bucket{le="0.01"} 6',
        'froctal_tick_duration_seconds_bucket{le="0.05"} 7',
        'froctal_tick_duration_seconds_bucket{le="0.1"} 7',
        'froctal_tick_duration_seconds_bucket{le="0.5"} 8',
        'froctal_tick_duration_seconds_bucket{le="+Inf"} 10',
        "froctal_tick_duration_seconds_sum 1.66485",
        "froctal_tick_duration_seconds_count 10",
        "",
      ].join("\n"),
    );
    expect(() => histogramText(metric, TICK_BUCKET_BOUNDS_MS, [1, 2], 0)).toThrow(
      "froctal_tick_duration_seconds: 2 bucket counts for 8 bounds",
    );
  });

  test("a histogram of ticks that never ran is all zeros", () => {
    const text = histogramText({ name: "x_seconds", help: "X." }, [1], [0, 0], 0);
    expect(text).toBe(
      '# HELP x_seconds X.\n# TYPE x_seconds histogram\nx_seconds_bucket{le="0.001"} 0\nx_seconds_bucket{le="+Inf"} 0\nx_seconds_sum 0\nx_seconds_count 0\n',
    );
  });
});

describe("GET /metrics", () => {
  let fleet: RunningFleet;
  beforeAll(async () => {
    fleet = await startFleet(webFleet("metrics", 2));
    await allReady(fleet, "web", 2);
  }, 30_000);
  afterAll(() => fleet?.stop(), 30_000);

  test("counts what the fleet did, in the Prometheus text format promtool accepts", async () => {
    await sendTextMessage(fleet.port);
    const res = await fetch(new URL("/metrics", fleet.url));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    // promtool passes empty input: an empty scrape must fail here, not there.
    expect(text.length).toBeGreaterThan(0);
    const lines = text.split("\n");
    for (const line of [
      'froctal_instances{service="web",phase="ready"} 2',
      'froctal_instances{service="web",phase="starting"} 0',
      'froctal_instances{service="web",phase="failed"} 0',
      'froctal_service_target_replicas{service="web"} 2',
      'froctal_service_recommended_replicas{service="web"} 2',
      'froctal_actions_total{kind="start",outcome="succeeded"} 2',
      'froctal_actions_total{kind="start",outcome="failed"} 0',
      'froctal_actions_total{kind="stop",outcome="succeeded"} 0',
      "froctal_agent_sessions 2",
      'froctal_agent_rejections_total{code="FROCTAL_E_FRAME_MALFORMED"} 1',
      'froctal_agent_rejections_total{code="FROCTAL_E_AUTH"} 0',
      'froctal_rollouts_total{outcome="committed"} 0',
      'froctal_rollouts_total{outcome="aborted"} 0',
      "froctal_rollout_last_duration_seconds 0",
      "froctal_config_generation 0",
      // The scale decision and the two starts: `froctal events` prints the same three.
      "froctal_journal_entries_total 3",
      // The embedded default: one host, this process, running both guests.
      'froctal_hosts{status="up"} 1',
      'froctal_hosts{status="lost"} 0',
      'froctal_host_guests{host="local"} 2',
      "# TYPE froctal_host_rejections_total counter",
      "# TYPE froctal_tick_duration_seconds histogram",
      "# TYPE froctal_tick_max_duration_seconds gauge",
      "# TYPE froctal_instances gauge",
    ]) {
      expect(lines).toContain(line);
    }
    // Every guest sends gauges every second, and the ticker has run: these grow, so only their shape is fixed.
    expect(lines).toContainEqual(expect.stringMatching(/^froctal_signals_ingested_total [1-9]\d*$/));
    expect(lines).toContainEqual(expect.stringMatching(/^froctal_ticks_total [1-9]\d*$/));
    // No network driver: its families are declared, with no sample (labelled by the driver; there is none).
    expect(lines.filter((l) => l.startsWith("froctal_network_"))).toEqual([]);
    expect(lines).toContain("# TYPE froctal_network_commits_total counter");
    // The histogram's sum replaced froctal_tick_seconds_total.
    expect(lines.filter((l) => l.includes("froctal_tick_seconds_total"))).toEqual([]);
    // Durations vary from run to run; the histogram's shape does not: every bucket, cumulative, and all of one moment.
    const ticks = Number(lines.find((l) => l.startsWith("froctal_ticks_total "))!.split(" ")[1]);
    const buckets = lines.filter((l) => l.startsWith("froctal_tick_duration_seconds_bucket{"));
    expect(buckets.map((l) => l.split(" ")[0])).toEqual(
      ["0.0001", "0.0005", "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "+Inf"].map(
        (le) => `froctal_tick_duration_seconds_bucket{le="${le}"}`,
      ),
    );
    const counts = buckets.map((l) => Number(l.split(" ")[1]));
    expect(counts.every((n, i) => i === 0 || n >= counts[i - 1]!)).toBe(true);
    expect(counts.at(-1)).toBe(ticks);
    expect(lines).toContain(`froctal_tick_duration_seconds_count ${ticks}`);
    expect(lines).toContainEqual(expect.stringMatching(/^froctal_tick_duration_seconds_sum \d/));

    expect(
      existsSync(promtool),
      `${promtool} is missing: run \`sh tools/setup/ensure.sh --test\` (it unpacks promtool from Debian's prometheus package)`,
    ).toBe(true);
    expect(await promtoolCheck(text)).toEqual({ code: 0, output: "" });
  }, 30_000);

  test("promtool does refuse what breaks the conventions (so the check above can fail)", async () => {
    expect(existsSync(promtool), `${promtool} is missing: run \`sh tools/setup/ensure.sh --test\``).toBe(true);
    const bad = "# HELP froctal_things_total Things.\n# TYPE froctal_things_total gauge\nfroctal_things_total 1\n";
    const checked = await promtoolCheck(bad);
    expect(checked.code).toBe(3);
    expect(checked.output).toContain('non-counter metrics should not have "_total" suffix');
  });
});
