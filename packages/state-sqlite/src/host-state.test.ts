import { stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, tempDir, thrown } from "../test/helpers.js";
import { HOST_STATE_FILE_NAME, openHostState } from "./host-state.js";
import { openSqliteState } from "./sqlite-state.js";

afterEach(removeTempDirs);

describe("a host's state", () => {
  it("keeps guest records across reopens: put replaces, delete forgets", async () => {
    const dir = await tempDir();
    const first = openHostState(dir);
    expect(first.path).toBe(join(dir, HOST_STATE_FILE_NAME));
    first.putGuest("web-2", '{"pid":2}');
    first.putGuest("web-1", '{"pid":1}');
    first.putGuest("web-2", '{"pid":22}');
    first.putGuest("web-3", '{"pid":3}');
    first.deleteGuest("web-3");
    first.deleteGuest("never-was");
    first.close();
    const again = openHostState(dir);
    expect(again.guests()).toEqual([
      { id: "web-1", record: '{"pid":1}' },
      { id: "web-2", record: '{"pid":22}' },
    ]);
    again.close();
    expect((await stat(join(dir, HOST_STATE_FILE_NAME))).mode & 0o777).toBe(0o600);
  });

  it("lives beside a manager's state in one directory without mixing with it", async () => {
    const dir = await tempDir();
    const manager = openSqliteState({ dir });
    manager.load("f");
    const host = openHostState(dir);
    host.putGuest("web-1", "{}");
    expect(host.guests()).toEqual([{ id: "web-1", record: "{}" }]);
    expect(manager.load("f").instances).toEqual([]);
    host.close();
    await manager.close();
  });

  it("says which call failed after it is closed", async () => {
    const host = openHostState(await tempDir());
    host.close();
    const error = thrown(() => host.putGuest("web-1", "{}"));
    expect(error.code).toBe("FROCTAL_E_INTERNAL");
    expect(error.sentence).toMatch(
      /^could not store the record of guest "web-1" in .*host\.db \(error: The database connection is not open\)$/,
    );
  });
});
