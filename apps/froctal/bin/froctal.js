#!/usr/bin/env node
// The `froctal` command npm links into node_modules/.bin. It is committed, not
// built: npm links a workspace's bin at install time only if the file exists,
// and dist/ is built after the install. It loads the built CLI, or says how to
// build it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    `froctal: ${fileURLToPath(main)} is not built yet: run \`npm run build\` at the root of the repository first\n`,
  );
  process.exit(2);
}
await import(main.href);
