/**
 * The dashboard on the manager's HTTP port: the page at `/`, its built assets
 * under `/assets/`, and its live stream at `/dashboard/stream`. The page is
 * @froctal/dashboard's build (found through that package's export, so only
 * what it built is served, never a path a request names). On a loopback bind
 * it is open like /status; bound elsewhere, the page and the stream need the
 * token from FROCTAL_DASHBOARD_TOKEN (`/?token=...`), and without one set they
 * refuse: fleet state is not shown to a network by default.
 */
import { timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Manager } from "@froctal/manager";
import { createDashboardStream, type HostsView } from "./dashboard-stream.js";

export const STREAM_PATH = "/dashboard/stream";
export const TOKEN_ENV = "FROCTAL_DASHBOARD_TOKEN";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

export interface DashboardOptions {
  readonly current: () => Manager | undefined;
  /** The hosts and where each instance runs (undefined: no hosts, every row's host is null). */
  readonly hosts: () => HostsView | undefined;
  /** Where the port is bound (null until it listens): decides whether the token is needed. */
  readonly address: () => AddressInfo | string | null;
  /** The access token a non-loopback bind requires (undefined: such a bind refuses the dashboard). */
  readonly token: string | undefined;
}

export interface Dashboard {
  /** Answers the request if it is the dashboard's (true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  /** Ends the open streams: they never end on their own, and the port's close waits for every connection. */
  close(): void;
}

export function isLoopback(host: string): boolean {
  return host === "::1" || host.startsWith("127.") || host.startsWith("::ffff:127.");
}

export function createDashboard(options: DashboardOptions): Dashboard {
  const stream = createDashboardStream(options.current, options.hosts);
  let files: ReadonlyMap<string, { readonly body: Buffer; readonly type: string }> | undefined;
  // Read once; an unbuilt dashboard is looked for again on the next request.
  const built = () => {
    if (files !== undefined) return files;
    const found = readBuild();
    if (found.size > 0) files = found;
    return found;
  };
  const allowed = (url: URL): true | string => {
    const address = options.address();
    const host = typeof address === "object" && address !== null ? address.address : "";
    if (isLoopback(host)) return true;
    if (options.token === undefined || options.token === "") {
      return `the dashboard is bound to ${host}, not loopback: set ${TOKEN_ENV} for froctal up and open /?token=<it>`;
    }
    const given = Buffer.from(url.searchParams.get("token") ?? "");
    const want = Buffer.from(options.token);
    return given.length === want.length && timingSafeEqual(given, want) ? true : "a wrong or missing ?token=";
  };
  return {
    handle(req, res, url) {
      if (req.method !== "GET") return false;
      const path = url.pathname === "/" ? "/index.html" : url.pathname;
      const gated = path === "/index.html" || url.pathname === STREAM_PATH;
      const file = built().get(path);
      if (!gated && (file === undefined || !path.startsWith("/assets/"))) return false;
      if (gated) {
        const ok = allowed(url);
        if (ok !== true) {
          res
            .writeHead(403, { "content-type": "application/json" })
            .end(JSON.stringify({ code: "FROCTAL_E_AUTH", reason: ok }));
          return true;
        }
      }
      if (url.pathname === STREAM_PATH) {
        stream.open(req, res);
        return true;
      }
      if (file === undefined) {
        res
          .writeHead(503, { "content-type": "text/plain; charset=utf-8" })
          .end("The dashboard is not built: run `npm run build` at the repository's root.\n");
        return true;
      }
      // Vite names assets by content hash: they never change under one name; the page itself may.
      const cache = path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-store";
      res.writeHead(200, { "content-type": file.type, "cache-control": cache }).end(file.body);
      return true;
    },
    close: () => stream.close(),
  };
}

/** Every file of the dashboard's build, by URL path; empty if it is not built. */
function readBuild(): ReadonlyMap<string, { readonly body: Buffer; readonly type: string }> {
  let dist: string;
  try {
    dist = dirname(fileURLToPath(import.meta.resolve("@froctal/dashboard")));
  } catch {
    return new Map();
  }
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const path = `/${relative(dist, full).split(sep).join("/")}`;
    files.set(path, { body: readFileSync(full), type: TYPES[extname(path)] ?? "application/octet-stream" });
  }
  return files;
}
