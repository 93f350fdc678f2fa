#!/usr/bin/env node
/**
 * node dist/build.js --app <guest entry .ts/.js> --out <dir> [--name NAME] [--cache DIR]
 * Builds <dir>/vmlinuz and <dir>/initrd.img, prints their sizes and a QEMU
 * command line that boots them.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { toFroctalError } from "@froctal/protocol";
import { buildImage } from "./image.js";
import { qemuArgs } from "./qemu.js";

const USAGE = "usage: node dist/build.js --app <guest entry .ts/.js> --out <dir> [--name NAME] [--cache DIR]";

async function main(argv: readonly string[]): Promise<number> {
  let values: { app?: string; out?: string; name?: string; cache?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        app: { type: "string" },
        out: { type: "string" },
        name: { type: "string" },
        cache: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.app || !values.out) {
    console.error(USAGE);
    return 2;
  }
  const started = Date.now();
  const image = await buildImage({
    app: values.app,
    outDir: values.out,
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(values.cache === undefined ? {} : { cacheDir: values.cache }),
    log: (line) => console.error(line),
  });
  console.log(`kernel  ${image.kernel}  ${image.kernelBytes} bytes`);
  console.log(`initrd  ${image.initrd}  ${image.initrdBytes} bytes${image.rebuilt ? "" : " (unchanged)"}`);
  console.log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s; boot it with:`);
  const args = qemuArgs({
    kernel: image.kernel,
    initrd: image.initrd,
    instanceId: image.name,
    socketPath: join(values.out, "ch0.sock"),
  });
  console.log(`  qemu-system-x86_64 ${args.map(quote).join(" ")}`);
  return 0;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(toFroctalError(err).message);
    process.exitCode = 1;
  },
);
