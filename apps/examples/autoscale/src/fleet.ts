/**
 * The self-scaling scenario: web guests scaled on requests per second, behind
 * one load balancer whose backend list is derived from the ready web guests.
 *
 *   froctal up apps/examples/autoscale
 */
import { fileURLToPath } from "node:url";
import { defineFleet } from "@froctal/manager";

const RPS_PER_INSTANCE = 40;
const image = (pkg: string) => fileURLToPath(import.meta.resolve(pkg));

export default defineFleet({
  name: "autoscale",
  services: {
    web: {
      image: image("@froctal/example-web"),
      min: 1,
      max: 8,
      loadMetric: "inflight",
      replicas: (web) => {
        const rps = web.metric("rps").sum;
        return {
          replicas: Math.ceil(rps / RPS_PER_INSTANCE),
          why: `${Math.round(rps)} requests/s at ${RPS_PER_INSTANCE} per instance`,
        };
      },
      scaleUp: { stabilizationMs: 0, cooldownMs: 1_000 },
      scaleDown: { stabilizationMs: 3_000, cooldownMs: 1_000, maxStep: 2 },
      drainTimeoutMs: 10_000,
      startTimeoutMs: 20_000,
    },
    lb: {
      image: image("@froctal/example-lb"),
      replicas: 1,
      config: (fleet) => ({
        backends: fleet
          .service("web")
          .ready.map((i) => i.fact<{ url: string }>("endpoint")?.url)
          .filter((url): url is string => url !== undefined)
          .sort(),
      }),
    },
  },
});
