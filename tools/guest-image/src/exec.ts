/**
 * Runs the host tools the build leans on (apt-get, dpkg-deb, ldd, xz, strip)
 * and turns their failures into FroctalErrors that name the tool, its
 * output, and the Debian package that provides it when it is missing.
 */
import { execFile } from "node:child_process";
import { FroctalError } from "@froctal/protocol";

export interface RunOptions {
  readonly cwd?: string;
  /** Output is returned as bytes rather than text (decompressors). */
  readonly binary?: boolean;
}

/** Which Debian package provides each tool, for the error sentence. */
const PROVIDERS: Readonly<Record<string, string>> = {
  "apt-get": "apt",
  "dpkg-deb": "dpkg",
  ldd: "libc-bin",
  xz: "xz-utils",
  zstd: "zstd",
  strip: "binutils",
};

const MAX_OUTPUT = 64 << 20;

export function run(tool: string, args: readonly string[], options?: RunOptions & { binary?: false }): Promise<string>;
export function run(tool: string, args: readonly string[], options: RunOptions & { binary: true }): Promise<Buffer>;
export function run(tool: string, args: readonly string[], options: RunOptions = {}): Promise<string | Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      args,
      { cwd: options.cwd, encoding: options.binary ? "buffer" : "utf8", maxBuffer: MAX_OUTPUT },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          const pkg = PROVIDERS[tool];
          return reject(
            new FroctalError(
              "FROCTAL_E_CONFIG",
              `${tool} is not installed on this machine${pkg ? ` (Debian package ${pkg})` : ""}`,
              { cause: error },
            ),
          );
        }
        const said = String(stderr).trim() || String(stdout).trim() || error.message;
        // A failed download may pass; a tool failing on files we made is ours to fix.
        const failure = tool === "apt-get" ? "FROCTAL_E_TRANSPORT" : "FROCTAL_E_INTERNAL";
        reject(new FroctalError(failure, `${tool} ${args.join(" ")} failed: ${said.slice(-2000)}`, { cause: error }));
      },
    );
  });
}
