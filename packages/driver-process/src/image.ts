import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { resolve } from "node:path";
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
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new FroctalError("FROCTAL_E_CONFIG", `the image ${path} of instance ${instanceId} is not a file`);
    }
    await access(path, constants.R_OK);
  } catch (cause) {
    if (cause instanceof FroctalError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    const sentence =
      code === "ENOENT" || code === "ENOTDIR"
        ? `the image ${path} of instance ${instanceId} does not exist`
        : `the image ${path} of instance ${instanceId} cannot be read (${code ?? String(cause)})`;
    throw new FroctalError("FROCTAL_E_CONFIG", sentence, { cause });
  }
  return path;
}
