/**
 * @froctal/driver-process: the embedded default Driver; guests are local child
 * processes, one Node entry module or one command (any executable) each. In
 * keep mode (the host daemon's) they outlive the driver's process and a later
 * driver adopts them.
 *
 *   process-driver.ts  createProcessDriver: the Driver port, instance slots, events, close, adoption
 *   guest.ts           one child process: spawn, output, SIGTERM/SIGKILL, exit
 *   adopted-guest.ts   one guest an earlier driver left running: proof it is the same process, stop, exit by polling
 *   kept.ts            keep mode's records port (GuestRecords), log files, the record of a guest just spawned
 *   proc.ts            reading /proc/<pid>/stat and environ
 *   guest-command.ts   the command line (a command behind its lifeline watcher) and minimal environment of a guest (pure)
 *   image.ts           resolving and checking an image path, or a command's executable
 *   line-splitter.ts   bounded splitting of a guest's output into lines
 *   network.ts         the GuestNetwork port (a network of each guest's own) and the command run inside it
 *   options.ts         options, defaults and their checks
 */
export type { Adoption, GuestRecords, KeepOptions, KeptGuest } from "./kept.js";
export type { GuestNetwork } from "./network.js";
export { DEFAULT_INHERITED_ENV, type LogSink, type LogStream, type ProcessDriverOptions } from "./options.js";
export { createProcessDriver, type KeepingProcessDriver } from "./process-driver.js";
