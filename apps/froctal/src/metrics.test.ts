/** GET /metrics on a running fleet: exact samples for what is known, and `promtool check metrics` on the whole text. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { allReady, app, type RunningFleet, startFleet, webFleet } from "../test/running-fleet.js";

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
      "# TYPE froctal_tick_seconds_total counter",
      "# TYPE froctal_instances gauge",
    ]) {
      expect(lines).toContain(line);
    }
    // Every guest sends gauges every second, and the ticker has run: these grow, so only their shape is fixed.
    expect(lines).toContainEqual(expect.stringMatching(/^froctal_signals_ingested_total [1-9]\d*$/));
    expect(lines).toContainEqual(expect.stringMatching(/^froctal_ticks_total [1-9]\d*$/));

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
