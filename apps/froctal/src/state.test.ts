import { describe, expect, it } from "vitest";
import { etcdEndpoints } from "./state.js";

describe("--state", () => {
  it("reads an etcd cluster's client addresses", () => {
    expect(etcdEndpoints("etcd://127.0.0.1:23790")).toEqual(["http://127.0.0.1:23790"]);
    expect(etcdEndpoints("etcd://a.example:2379,b:2379,[::1]:2379")).toEqual([
      "http://a.example:2379",
      "http://b:2379",
      "http://[::1]:2379",
    ]);
  });

  it("refuses anything else with a sentence saying what to give", () => {
    for (const bad of ["etcd://", "http://a:2379", "etcd://a", "etcd://a:2379,", "etcd://a:2379/x", "sqlite:///tmp"]) {
      expect(() => etcdEndpoints(bad)).toThrow(
        `FROCTAL_E_CONFIG: --state ${bad}: give etcd://host:port[,host:port...] (the cluster's client addresses)`,
      );
    }
  });
});
