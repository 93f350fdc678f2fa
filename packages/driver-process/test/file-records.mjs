// GuestRecords kept in one JSON file, as the host daemon keeps them in SQLite:
// they outlive the process that wrote them, so a test can kill a driver's
// process and hand the same records to a new driver. Every write goes to a
// temporary file first and is renamed over the old one, so a reader (or a
// writer killed midway) never sees half a file. Plain JavaScript: the
// keeping-driver fixture, a plain Node process, uses it too.
import { readFileSync, renameSync, writeFileSync } from "node:fs";

export class FileRecords {
  constructor(path) {
    this.path = path;
  }

  all() {
    let text;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if (error.code === "ENOENT") return [];
      throw error;
    }
    return JSON.parse(text);
  }

  put(guest) {
    this.#write([...this.all().filter((kept) => kept.instanceId !== guest.instanceId), guest]);
  }

  delete(instanceId) {
    this.#write(this.all().filter((kept) => kept.instanceId !== instanceId));
  }

  #write(guests) {
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(guests));
    renameSync(temporary, this.path);
  }
}
