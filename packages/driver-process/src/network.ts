import type { LaunchSpec } from "@froctal/manager";
import { rethrowLater } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import type { GuestCommand } from "./guest-command.js";

/**
 * A network of its own for each guest (say a network namespace with a veth on
 * a bridge), made before the guest is spawned and removed once it is gone.
 * The driver knows nothing of how: it only runs the guest's command behind the
 * prefix join() returns.
 */
export interface GuestNetwork {
  /**
   * Makes the instance's network, all or nothing, and resolves with the argv
   * prefix that runs a command inside it (`["/usr/sbin/ip", "netns", "exec",
   * NAME]`: the guest's command line follows it). The prefix must exec the
   * command in place (same pid, environment and descriptors), as `ip netns
   * exec` does: the driver signals, records and adopts that pid. Its first
   * element is looked up on the guest's PATH unless it is a path: give one. An
   * empty prefix runs the command as is. A rejection fails start() (a
   * FroctalError as is; anything else as FROCTAL_E_INTERNAL, retryable) with
   * nothing spawned, and leave() is not called for it.
   */
  join(spec: LaunchSpec): Promise<readonly string[]>;
  /**
   * Removes the instance's network, once the guest that joined it is gone, or
   * was never spawned. Should be idempotent: in keep mode a driver leaves, for
   * each guest it adopted, a network an earlier driver joined. It should not
   * fail; a rejection surfaces on its own, as an uncaught error.
   */
  leave(instanceId: string): Promise<void>;
}

/**
 * The driver's side of a GuestNetwork: one join or leave at a time per
 * instance id, so that a guest started again right after its exit joins only
 * once the network of the one before is left.
 */
export class Networking {
  readonly #network: GuestNetwork | undefined;
  /** Leaves in flight, by instance id. */
  readonly #leaving = new Map<string, Promise<void>>();

  constructor(network: GuestNetwork | undefined) {
    this.#network = network;
  }

  /** True if guests join a network; an adopted guest is then taken to have joined one. */
  get enabled(): boolean {
    return this.#network !== undefined;
  }

  /** The prefix of the guest's command line; undefined without a network (nothing joined, nothing to leave). */
  async join(spec: LaunchSpec): Promise<readonly string[] | undefined> {
    const network = this.#network;
    if (network === undefined) return undefined;
    await this.#leaving.get(spec.instanceId);
    let prefix: readonly string[];
    try {
      prefix = await network.join(spec);
    } catch (cause) {
      if (cause instanceof FroctalError) throw cause;
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new FroctalError(
        "FROCTAL_E_INTERNAL",
        `instance ${spec.instanceId} was not started: its network could not be joined (${why})`,
        { cause, retryable: true },
      );
    }
    if (!Array.isArray(prefix) || !prefix.every((arg) => typeof arg === "string" && arg.length > 0)) {
      await this.leave(spec.instanceId);
      throw new FroctalError(
        "FROCTAL_E_INTERNAL",
        `instance ${spec.instanceId} was not started: its network gave ${JSON.stringify(prefix)}, not a command prefix`,
      );
    }
    return prefix;
  }

  /** Leaves the instance's network; resolves when it is left (never rejects: a failure surfaces on its own). */
  leave(instanceId: string): Promise<void> {
    const network = this.#network;
    if (network === undefined) return Promise.resolve();
    const before = this.#leaving.get(instanceId) ?? Promise.resolve();
    const leaving = before.then(() => network.leave(instanceId)).catch(rethrowLater);
    this.#leaving.set(instanceId, leaving);
    void leaving.then(() => {
      if (this.#leaving.get(instanceId) === leaving) this.#leaving.delete(instanceId);
    });
    return leaving;
  }

  /** The leave of that instance in flight, if any. */
  left(instanceId: string): Promise<void> | undefined {
    return this.#leaving.get(instanceId);
  }
}

/** `command` run behind `prefix` (which execs it in place): the prefix's file, its arguments, then the command's. */
export function inNetwork(command: GuestCommand, prefix: readonly string[] | undefined): GuestCommand {
  const [file, ...args] = prefix ?? [];
  if (file === undefined) return command;
  return { ...command, file, args: [...args, command.file, ...command.args] };
}
