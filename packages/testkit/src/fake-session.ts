/** A session as the server edge would hand it to the core, recording what the manager sends. */

import type { AgentSession } from "@froctal/manager";
import type { ErrorCode, ManagerFrame } from "@froctal/protocol";

let sessions = 0;

export class FakeSession implements AgentSession {
  readonly frames: ManagerFrame[] = [];
  readonly acks: number[] = [];
  /** While false, send() refuses like a closed or backed-up connection. */
  connected = true;
  closedWith: { code: ErrorCode; reason: string } | undefined;

  constructor(
    readonly instanceId: string,
    readonly streamId: string,
    readonly sessionId = `session-${++sessions}`,
    /** Told of every ack, as the agent would be by an Ack frame. */
    private readonly onAck: (seq: number) => void = () => {},
  ) {}

  send(frame: ManagerFrame): boolean {
    if (!this.connected) return false;
    this.frames.push(frame);
    return true;
  }

  ack(seq: number): void {
    this.acks.push(seq);
    this.onAck(seq);
  }

  close(code: ErrorCode, reason: string): void {
    this.connected = false;
    this.closedWith = { code, reason };
  }

  /** The payloads of the frames of one kind sent so far, in order. */
  sent<K extends keyof ManagerFrame & ("prepare" | "commit" | "abort" | "drain" | "shutdown" | "ping")>(
    kind: K,
  ): NonNullable<ManagerFrame[K]>[] {
    const out: NonNullable<ManagerFrame[K]>[] = [];
    for (const f of this.frames) {
      const v = f[kind];
      if (v !== undefined && v !== null) out.push(v as NonNullable<ManagerFrame[K]>);
    }
    return out;
  }
}
