/**
 * A guest of the rollout property tests: the agent's own configuration machine
 * (@froctal/agent/core's ConfigMachine, the one every guest runs) behind the
 * real codec, with handlers that accept, refuse or fail as the trace says, and
 * a record of what it prepared, refused, applied and failed to commit.
 */
import { type Ack, ConfigMachine, configCommandOf } from "@froctal/agent/core";
import { canonicalJson } from "@froctal/manager";
import { ConfigAckStatus, decodeManagerFrame, encodeManagerFrame, type ManagerFrame } from "@froctal/protocol";
import type { FakeAgent } from "@froctal/testkit";
import type { Outcome } from "./rollout-agent-trace.js";

export interface Applied {
  readonly generation: number;
  /** The configuration as canonical JSON, comparable with what the manager offered. */
  readonly json: string;
}

/** A guest: the agent's own configuration machine, with handlers that accept, refuse or fail as told. */
export class Guest {
  readonly machine: ConfigMachine;
  running: Applied = { generation: 0, json: "" };
  /** Every configuration committed, in order. */
  readonly applied: Applied[] = [];
  readonly abortsReceived = new Set<number>();
  /** Generations this guest answered PREPARED, and NACKED at prepare. */
  readonly preparedGenerations = new Set<number>();
  readonly refusedGenerations = new Set<number>();
  /** Generations whose commit handler threw here. */
  readonly failedGenerations = new Set<number>();
  /** Commits whose handler threw. */
  failedCommits = 0;
  /** Its agent towards the current manager (one per manager, so event numbering carries across reconnects). */
  agent: FakeAgent | undefined;
  /** Frames of the current session already taken into the inbox. */
  taken = 0;
  /** Frames received and not yet handled: they survive a disconnect unless lost in transit. */
  inbox: ManagerFrame[] = [];
  /** The highest generation it told the current manager it runs (in its hello, or in an answer). */
  told = 0;
  private outcome: Outcome = "accept";
  private answers: Ack[] = [];

  constructor(
    readonly id: string,
    readonly token: string,
  ) {
    this.machine = new ConfigMachine({
      runningGeneration: 0,
      send: (ack) => this.answers.push(ack),
      report: () => {}, // a failed commit is also reported; the answer carries it to the manager
      handler: {
        prepare: () => (this.outcome === "refuse" ? "the guest refuses" : undefined),
        commit: (config, generation) => {
          if (this.outcome === "fail") {
            this.failedCommits++;
            this.failedGenerations.add(generation);
            throw new Error("the swap failed");
          }
          this.running = { generation, json: canonicalJson(config) };
          this.applied.push(this.running);
        },
      },
    });
  }

  /** Handles one frame as the agent's session does (real codec, configCommandOf); returns the answers. */
  async handle(frame: ManagerFrame, outcome: Outcome): Promise<readonly Ack[]> {
    const checked = decodeManagerFrame(encodeManagerFrame(frame));
    if (checked.frame === "abort") this.abortsReceived.add(checked.abort.generation);
    const command = configCommandOf(checked);
    if (command === undefined) return [];
    this.outcome = outcome;
    this.answers = [];
    await this.machine.handle(command);
    for (const a of this.answers) {
      if (a.status === ConfigAckStatus.CONFIG_ACK_STATUS_PREPARED) this.preparedGenerations.add(a.generation);
      if (a.status === ConfigAckStatus.CONFIG_ACK_STATUS_NACKED && command.kind === "prepare") {
        this.refusedGenerations.add(a.generation);
      }
    }
    return this.answers;
  }
}
