import { FroctalError } from "@froctal/primitives";

/** What `promise` rejected with, which must be a FroctalError (a resolution, or anything else, fails the test). */
export async function failure(promise: Promise<unknown>): Promise<FroctalError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof FroctalError)) throw new Error(`expected a FroctalError, got ${String(error)}`);
  return error;
}
