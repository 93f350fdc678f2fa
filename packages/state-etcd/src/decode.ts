import type { FleetState, InstanceRecord } from "@froctal/manager";
import { FroctalError } from "@froctal/primitives";
import { type FleetKeys, FORMAT_VERSION, HOSTS, INSTANCES } from "./keys.js";

/** A key as etcd returns it in a range or txn response. */
export interface StoredKey {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly mod_revision: string;
}

export interface Meta {
  readonly format: number;
  readonly fleetId: string;
  readonly hostSecret: string;
}

export interface DecodedFleet {
  readonly state: FleetState;
  /** The generation key's mod revision ("0" when absent): the first reservation compares against it. */
  readonly generationRevision: string;
  /** The ordinal key's mod revision ("0" when absent), likewise. */
  readonly ordinalRevision: string;
}

/**
 * Reads a fleet from the keys one range read returned. Anything under the
 * fleet's prefix that this version did not write (a key it does not know,
 * a value it cannot read) refuses the whole fleet with FROCTAL_E_CONFIG naming
 * the key: a manager must never act on half a state.
 */
export function decodeFleet(keys: FleetKeys, stored: readonly StoredKey[]): DecodedFleet {
  let meta: Meta | undefined;
  let reservedGeneration = 0;
  let generationRevision = "0";
  let lastOrdinal = 0;
  let ordinalRevision = "0";
  const instances: InstanceRecord[] = [];
  const hosts: string[] = [];
  for (const kv of stored) {
    const key = kv.key.toString();
    const value = kv.value.toString();
    const rest = key.startsWith(keys.root) ? key.slice(keys.root.length) : undefined;
    if (rest === "meta") meta = decodeMeta(key, value);
    else if (rest === "generation") {
      reservedGeneration = decodeMark(key, value);
      generationRevision = kv.mod_revision;
    } else if (rest === "ordinal") {
      lastOrdinal = decodeMark(key, value);
      ordinalRevision = kv.mod_revision;
    } else if (rest?.startsWith(INSTANCES)) instances.push(decodeInstance(key, value, idOf(key, rest, INSTANCES)));
    else if (rest?.startsWith(HOSTS)) hosts.push(idOf(key, rest, HOSTS));
    else throw refused(key, "is no key froctal writes (foreign data under the fleet's prefix)");
  }
  // load() claims the meta in the transaction that reads: missing here means someone deleted it in between.
  if (meta === undefined) throw refused(keys.meta, "is missing");
  instances.sort((a, b) => compare(a.id, b.id));
  hosts.sort(compare);
  return {
    state: { fleetId: meta.fleetId, hostSecret: meta.hostSecret, hosts, reservedGeneration, lastOrdinal, instances },
    generationRevision,
    ordinalRevision,
  };
}

export function encodeMeta(meta: Meta): string {
  return JSON.stringify(meta);
}

export function decodeMeta(key: string, value: string): Meta {
  const parsed = parseJson(key, value);
  if (!isObject(parsed)) throw refused(key, "is not a JSON object");
  if (parsed.format !== FORMAT_VERSION)
    throw refused(key, `has format version ${JSON.stringify(parsed.format)}; this froctal reads ${FORMAT_VERSION}`);
  if (typeof parsed.fleetId !== "string" || !/^[0-9a-f]{32}$/.test(parsed.fleetId))
    throw refused(key, "has no fleet id of 32 lowercase hex digits");
  if (typeof parsed.hostSecret !== "string" || !/^[0-9a-f]{64}$/.test(parsed.hostSecret))
    throw refused(key, "has no host secret of 64 lowercase hex digits");
  return { format: parsed.format, fleetId: parsed.fleetId, hostSecret: parsed.hostSecret };
}

/** A mark (the reserved generation, the last ordinal): a decimal whole number. */
export function encodeMark(upTo: number): string {
  return String(upTo);
}

export function decodeMark(key: string, value: string): number {
  const n = Number(value);
  if (!/^(0|[1-9][0-9]*)$/.test(value) || !Number.isSafeInteger(n))
    throw refused(key, `holds ${JSON.stringify(value.slice(0, 40))}, not a whole number`);
  return n;
}

export function encodeInstance(record: InstanceRecord): string {
  const { id, service, ordinal, token, phase, generation, configJson } = record;
  return JSON.stringify({ id, service, ordinal, token, phase, generation, configJson });
}

export function decodeInstance(key: string, value: string, id: string): InstanceRecord {
  const r = parseJson(key, value);
  if (!isObject(r)) throw refused(key, "is not a JSON object");
  if (r.id !== id) throw refused(key, `holds the record of ${JSON.stringify(r.id)}, not of ${JSON.stringify(id)}`);
  for (const field of ["service", "token", "phase", "configJson"] as const)
    if (typeof r[field] !== "string") throw refused(key, `has no string ${field}`);
  for (const field of ["ordinal", "generation"] as const) {
    const n = r[field];
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
      throw refused(key, `has no ${field} that is a whole number`);
  }
  return {
    id,
    service: r.service as string,
    ordinal: r.ordinal as number,
    token: r.token as string,
    phase: r.phase as string,
    generation: r.generation as number,
    configJson: r.configJson as string,
  };
}

function idOf(key: string, rest: string, kind: string): string {
  const encoded = rest.slice(kind.length);
  try {
    const id = decodeURIComponent(encoded);
    if (id !== "" && encodeURIComponent(id) === encoded) return id;
  } catch {
    // Falls through to the refusal: a malformed escape is foreign data too.
  }
  throw refused(key, "names no id froctal would write");
}

function parseJson(key: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw refused(key, "is not JSON");
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function refused(key: string, why: string): FroctalError {
  return new FroctalError("FROCTAL_E_CONFIG", `the fleet's state in etcd is refused: key ${key} ${why}`);
}

/** Code-unit order, the same for every manager (localeCompare is not). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
