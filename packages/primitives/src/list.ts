import type { FroctalError } from "./errors.js";

export interface ListRules<T> {
  /**
   * Parses one entry (trimmed). `which` names it in a sentence: "the address"
   * when it is the only one, else `entry 2, "x",`; `index` counts from 0.
   */
  parse(entry: string, which: string, index: number): T;
  /** What makes two entries the same one (refused as given twice). */
  key(item: T): string;
  /** The error for a list refused for `why` (a fragment: "entry 2 is empty"). */
  bad(why: string): FroctalError;
}

/**
 * A list given as one comma-separated string (a flag, an environment
 * variable) or as an array, parsed in order: an empty list, an empty entry, or
 * an entry the same as an earlier one is refused with a sentence naming it.
 */
export function parseList<T>(value: string | readonly string[], rules: ListRules<T>): T[] {
  const entries = typeof value === "string" ? value.split(",") : value;
  if (entries.length === 0) throw rules.bad("it is empty");
  const items: T[] = [];
  const keys = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    const which = entries.length === 1 ? "the address" : `entry ${i + 1}, ${JSON.stringify(entry)},`;
    if (entry.trim() === "") throw rules.bad(entries.length === 1 ? "it is empty" : `entry ${i + 1} is empty`);
    const item = rules.parse(entry.trim(), which, i);
    const key = rules.key(item);
    if (keys.has(key)) throw rules.bad(`${which} is given twice`);
    keys.add(key);
    items.push(item);
  }
  return items;
}
