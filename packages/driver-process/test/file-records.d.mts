import type { GuestRecords, KeptGuest } from "../src/index.js";

/** GuestRecords in one JSON file (file-records.mjs). */
export declare class FileRecords implements GuestRecords {
  readonly path: string;
  constructor(path: string);
  all(): readonly KeptGuest[];
  put(guest: KeptGuest): void;
  delete(instanceId: string): void;
}
