/**
 * Test doubles for pure-logic tests of the manager core: an in-memory Driver,
 * fake sessions and agents that speak to the Ingest port, frame builders,
 * helpers to drive a VirtualClock, and counting doubles for the benchmarks. Not part of the public API (src/index.ts);
 * never a substitute for the real driver or server in an end-to-end test.
 */
export { CountingDriver, CountingSession } from "./counting.js";
export { FakeAgent, type SendContent } from "./fake-agent.js";
export { FakeSession } from "./fake-session.js";
export { app, batch, configAck, device, drained, gauge, hello, lifecycle, ready } from "./frames.js";
export { type DriverCall, MemoryDriver, type MemoryDriverOptions } from "./memory-driver.js";
export { MemoryState } from "./memory-state.js";
export { elapse, microtasks, settle } from "./time.js";
