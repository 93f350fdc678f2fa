#!/usr/bin/env node
// MobX chooses its development or production build when it is first loaded,
// by NODE_ENV; the binary runs the production one unless told otherwise, so
// this must happen before anything imports it.
process.env.NODE_ENV ??= "production";
await import("./cli.js");
