import { describe, expect, it } from "vitest";
import { parseLdd } from "./runtime.js";

describe("parseLdd", () => {
  it("lists the libraries and the loader at the paths ldd resolved, without the vdso", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd4a9f2000)",
      "\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f3c1c5f2000)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f3c1c200000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3c1bc1e000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f3c1c60f000)",
      "",
    ].join("\n");
    expect(parseLdd(output)).toEqual([
      "/lib/x86_64-linux-gnu/libdl.so.2",
      "/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib64/ld-linux-x86-64.so.2",
    ]);
  });

  it("needs nothing for a static binary", () => {
    expect(parseLdd("\tnot a dynamic executable\n")).toEqual([]);
    expect(parseLdd("\tstatically linked\n")).toEqual([]);
  });

  it("fails on a library the host lacks", () => {
    expect(() => parseLdd("\tlibicuuc.so.72 => not found\n")).toThrow(/needs libicuuc.so.72/);
  });
});
