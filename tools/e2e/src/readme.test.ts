/**
 * The root README, run as written: every command in its sh blocks under the
 * sections below runs in a shell (npx froctal and all), in a sandbox of its own,
 * and what it prints is compared with the block that follows it; a block of
 * log lines must show up in the running manager's log. Generation numbers,
 * ports, times and pids are masked (readme.ts normalize); every other
 * character must match. `npm ...` lines (start, test, build) are not run: the
 * suite has built everything already.
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { eventually, freePort, guestsOf, root } from "./fleet.js";
import { type Block, codeBlocks, isLogLine, normalize, ReadmeShell } from "./readme.js";

const readme = codeBlocks(readFileSync(join(root, "README.md"), "utf8"));
const work = mkdtempSync(join(tmpdir(), "froctal-readme-"));
let shell: ReadmeShell;

beforeAll(async () => {
  // What `npx froctal` runs: the committed bin, linked by npm at install time.
  const linked = join(root, "node_modules/.bin/froctal");
  let target = "";
  try {
    target = realpathSync(linked);
  } catch {}
  expect(target, `${linked} is missing: run npm install (npm links it from apps/froctal/package.json "bin")`).toBe(
    join(root, "apps/froctal/bin/froctal.js"),
  );
  shell = new ReadmeShell({
    root,
    devices: join(work, "devices"),
    stateHome: join(work, "state"),
    port: await freePort(),
  });
});

afterAll(async () => {
  await shell?.stop();
  rmSync(work, { recursive: true, force: true });
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a section's blocks in order; a block mentioning one of `freshRunBefore` starts with a separate run. */
async function play(section: string, freshRunBefore: readonly string[] = []): Promise<void> {
  const blocks = readme.get(section);
  expect(blocks, `README.md has no section "${section}"`).toBeDefined();
  for (let i = 0; i < blocks!.length; i++) {
    const block = blocks![i]!;
    if (block.kind === "sh") {
      if (freshRunBefore.some((s) => block.lines.join("\n").includes(s))) await shell.restart();
      const next = blocks![i + 1];
      const output = next?.kind === "text" && next.follows ? next : undefined;
      await runCommands(block, output);
      if (output !== undefined) i++;
    } else if (block.lines.every(isLogLine)) {
      await expectInLog(block);
    } else {
      throw new Error(`README.md:${block.line}: a text block is either right after its commands, or log lines`);
    }
  }
  // Ctrl-C: froctal stops every guest it started, then exits, quietly.
  const url = shell.url;
  const log = await shell.stop();
  expect(log.filter((l) => l.startsWith("stderr: "))).toEqual([]);
  expect(log.some((l) => l.includes('"msg":"stopping every guest"'))).toBe(true);
  expect(guestsOf(url)).toEqual([]);
}

/** Each command in turn, a second apart as a person types; the last one's output must become `output`. */
async function runCommands(block: Block, output: Block | undefined): Promise<void> {
  const commands = block.lines.filter((l) => l.trim() !== "");
  for (const [k, command] of commands.entries()) {
    if (/^npm /.test(command)) continue;
    if (/^npx froctal up /.test(command)) {
      await shell.up(command);
      continue;
    }
    if (k === commands.length - 1 && output !== undefined) {
      await printsEventually(command, output);
    } else {
      const ran = await shell.run(command);
      expect(ran.code, `README.md:${block.line}: ${command}\n${ran.stderr}`).toBe(0);
      await pause(1_000);
    }
  }
}

/** Reruns `command` until it prints what the README says (masked), or fails with the difference. */
async function printsEventually(command: string, output: Block): Promise<void> {
  const want = normalize(output.lines.join("\n"), true);
  let got = "";
  const deadline = Date.now() + 25_000;
  while (Date.now() < deadline) {
    const ran = await shell.run(command);
    got = normalize(ran.stdout, true);
    if (ran.code === 0 && got === want) return;
    await pause(300);
  }
  expect(got, `README.md:${output.line}: what \`${command}\` prints`).toBe(want);
}

async function expectInLog(block: Block): Promise<void> {
  const want = block.lines.map((l) => normalize(l, false));
  const missing = () => {
    const log = new Set(shell.log.filter(isLogLine).map((l) => normalize(l, false)));
    return want.filter((l) => !log.has(l));
  };
  await eventually(async () => (missing().length === 0 ? true : undefined), "the README's log lines", 15_000).catch(
    () => undefined,
  );
  expect(missing(), `README.md:${block.line}: log lines the manager did not print`).toEqual([]);
}

test("Quick start: froctal up and froctal status", async () => {
  await play("Quick start");
});

test("Reconfiguration: routers", async () => {
  // The list items' outputs come from separate runs, as the README says.
  await play("Reconfiguration: routers", [
    "> /tmp/froctal-devices/router-b-2/refuse.json",
    "> /tmp/froctal-devices/router-c-3/hold.json",
  ]);
}, 180_000);

test("Hot-plug: the fastest NIC", async () => {
  await play("Hot-plug: the fastest NIC");
});
