import { defineConfig } from "vitest/config";

// A private Open vSwitch runs one at a time per host (@froctal/ovs-switch): a file may wait for another's to stop.
export default defineConfig({
  test: {
    hookTimeout: 150_000,
  },
});
