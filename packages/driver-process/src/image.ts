import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, resolve } from "node:path";
import { FroctalError } from "@froctal/protocol";

/**
 * Resolves a spec's image against the image root and checks that Node can read
 * it, so a wrong path fails start() with a sentence instead of a guest that
 * exits 1 with a stack trace in its log.
 */
export async function resolveImage(image: string, imageRoot: string, instanceId: string): Promise<string> {
  if (image.length === 0) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `instance ${instanceId} has an empty image; the process driver needs the path of a Node entry module`,
    );
  }
  const path = resolve(imageRoot, image);
  await check(path, constants.R_OK, `the image ${path} of instance ${instanceId}`, "cannot be read");
  return path;
}

/**
 * Finds a command's executable as execvp would, and checks that it can be run,
 * so that a wrong path fails start() with a sentence naming it. A name with a
 * slash is a path, absolute or relative to the image root (as images are); a
 * bare name is looked up on the guest's own PATH, not the manager's.
 */
export async function resolveExecutable(
  executable: string | undefined,
  imageRoot: string,
  guestPath: string | undefined,
  instanceId: string,
): Promise<string> {
  if (executable === undefined || executable.length === 0) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `instance ${instanceId} has an empty command; the process driver needs an executable to run`,
    );
  }
  if (executable.includes("/")) {
    const path = resolve(imageRoot, executable);
    await check(path, constants.X_OK, `the command ${path} of instance ${instanceId}`, "is not executable");
    return path;
  }
  // An empty PATH entry means the working directory, as it does for execvp.
  for (const dir of (guestPath ?? "").split(delimiter)) {
    const path = resolve(dir, executable);
    try {
      await check(path, constants.X_OK, path, "");
      return path;
    } catch {
      // not this one: execvp tries the next entry too
    }
  }
  throw new FroctalError(
    "FROCTAL_E_CONFIG",
    `the command ${executable} of instance ${instanceId} is not an executable file on the guest's PATH (${guestPath ?? "unset"})`,
  );
}

/** Throws FROCTAL_E_CONFIG "<what> does not exist / is not a file / <denied>" unless path is a file allowing `mode`. */
async function check(path: string, mode: number, what: string, denied: string): Promise<void> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new FroctalError("FROCTAL_E_CONFIG", `${what} is not a file`);
    await access(path, mode);
  } catch (cause) {
    if (cause instanceof FroctalError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    const sentence =
      code === "ENOENT" || code === "ENOTDIR"
        ? `${what} does not exist`
        : `${what} ${denied} (${code ?? String(cause)})`;
    throw new FroctalError("FROCTAL_E_CONFIG", sentence, { cause });
  }
}
