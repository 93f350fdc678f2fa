/**
 * A fleet whose guests are a shell script (guest.sh), run as a command rather
 * than an image: any executable can be a guest on the process driver.
 *
 *   froctal up apps/examples/shell-guest
 */
import { fileURLToPath } from "node:url";
import { defineFleet } from "@froctal/manager";

/** From src/ and dist/ alike, the script sits one folder up. */
export const guestScript = fileURLToPath(new URL("../guest.sh", import.meta.url));

export default defineFleet({
  name: "shell-guest",
  services: {
    echo: {
      // argv as given, no shell in between: the space and the comma reach the guest inside one argument.
      command: [guestScript, "--greeting", "hello, world"],
      replicas: 2,
    },
  },
});
