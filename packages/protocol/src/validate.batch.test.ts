// The batch's rules: seqs, counts, metric declarations and samples (its events: validate.events.test.ts).
import { describe, it } from "vitest";
import { agent, app, expectInvalid, long, notInEnum, TOO_BIG, withBatch } from "../test/helpers.js";
import type { AgentFrame } from "./wire.js";

describe("AgentFrame rules", () => {
  const cases: [string, AgentFrame, RegExp?][] = [
    [
      "batch.first_seq",
      withBatch((b) => {
        b.firstSeq = 0;
      }),
      /must be at least 1 when the batch has events/,
    ],
    [
      "batch.first_seq",
      withBatch((b) => {
        b.firstSeq = TOO_BIG;
      }),
      /whole number/,
    ],
    [
      "batch.sent_at_ms",
      withBatch((b) => {
        b.sentAtMs = TOO_BIG;
      }),
      /whole number/,
    ],
    [
      "batch.events",
      withBatch((b) => {
        b.events!.push(app());
      }),
      /has 4 entries; the limit is 3/,
    ],
    [
      "batch.metric_ids",
      withBatch((b) => {
        b.metricIds = [1, 2, 1];
        b.metricValues = [1, 2, 3];
      }),
      /has 3 entries; the limit is 2/,
    ],
    [
      "batch.metric_decls",
      withBatch((b) => {
        b.metricDecls!.push({ id: 3, name: "x", kind: 1 });
      }),
      /has 3 entries; the limit is 2/,
    ],
    [
      "batch.metric_values",
      withBatch((b) => {
        b.metricValues = [1];
      }),
      /has 1 entries but metric_ids has 2/,
    ],
    [
      "batch.metric_values",
      withBatch((b) => {
        b.metricIds = [1];
      }),
      /has 2 entries but metric_ids has 1/,
    ],
    [
      "batch.metric_values[1]",
      withBatch((b) => {
        b.metricValues = [1, Number.NaN];
      }),
      /must be a finite number, not NaN/,
    ],
    [
      "batch.metric_values[1]",
      withBatch((b) => {
        b.metricValues = [1, Number.POSITIVE_INFINITY];
      }),
      /not Infinity/,
    ],
    [
      "batch.metric_values[0]",
      withBatch((b) => {
        b.metricValues = [Number.NEGATIVE_INFINITY, 1];
      }),
      /not -Infinity/,
    ],
    [
      "batch.metric_ids[1]",
      withBatch((b) => {
        b.metricIds = [1, 0];
      }),
      /must be a declared id \(>= 1\)/,
    ],
    [
      "batch.metric_decls[1].id",
      withBatch((b) => {
        b.metricDecls![1]!.id = 0;
      }),
      /must be at least 1/,
    ],
    [
      "batch.metric_decls[0].name",
      withBatch((b) => {
        b.metricDecls![0]!.name = "1load";
      }),
      /not a valid metric name: "1load"/,
    ],
    [
      "batch.metric_decls[0].name",
      withBatch((b) => {
        b.metricDecls![0]!.name = "lo ad";
      }),
      /not a valid metric name/,
    ],
    [
      "batch.metric_decls[0].name",
      withBatch((b) => {
        b.metricDecls![0]!.name = "";
      }),
      /is empty/,
    ],
    [
      "batch.metric_decls[1].kind",
      withBatch((b) => {
        b.metricDecls![1]!.kind = 0;
      }),
      /must be one of the contract's values 1..2, not 0/,
    ],
    [
      "batch.metric_decls[1].kind",
      withBatch((b) => {
        b.metricDecls![1]!.kind = notInEnum(3);
      }),
      /1..2, not 3/,
    ],
    [
      "batch.metric_decls[0].unit",
      withBatch((b) => {
        b.metricDecls![0]!.unit = long(17);
      }),
      /limit is 16/,
    ],
  ];

  it.each(cases)("refuses a broken %s", (path, frame, problem) => {
    expectInvalid(() => agent(frame), path, problem);
  });
});
