import { describe, expect, it } from "vitest";
import { FroctalError } from "./errors.js";
import { parseList } from "./list.js";

const rules = {
  parse: (entry: string, which: string) => {
    if (!/^\d+$/.test(entry)) throw new FroctalError("FROCTAL_E_CONFIG", `${which} is not a number`);
    return Number(entry);
  },
  key: (n: number) => String(n),
  bad: (why: string) => new FroctalError("FROCTAL_E_CONFIG", `not a list of numbers (${why})`),
};

describe("parseList", () => {
  it("reads a comma-separated string or an array, entries trimmed, in order", () => {
    expect(parseList("1, 2,3", rules)).toEqual([1, 2, 3]);
    expect(parseList(["4", " 5"], rules)).toEqual([4, 5]);
  });

  it("names what it refuses: empty list, empty entry, an entry given twice, and what parse refuses", () => {
    expect(() => parseList([], rules)).toThrow("not a list of numbers (it is empty)");
    expect(() => parseList(" ", rules)).toThrow("not a list of numbers (it is empty)");
    expect(() => parseList("1,,2", rules)).toThrow("not a list of numbers (entry 2 is empty)");
    expect(() => parseList("1,2,01", rules)).toThrow('not a list of numbers (entry 3, "01", is given twice)');
    expect(() => parseList("x", rules)).toThrow("the address is not a number");
    expect(() => parseList("1,x", rules)).toThrow('entry 2, "x", is not a number');
  });
});
