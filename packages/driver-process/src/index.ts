/**
 * @froctal/driver-process: the embedded default Driver; guests are local child
 * processes, one Node entry module or one command (any executable) each.
 *
 *   process-driver.ts  createProcessDriver: the Driver port, instance slots, events, close
 *   guest.ts           one child process: spawn, output, SIGTERM/SIGKILL, exit
 *   guest-command.ts   the command line (a command behind its lifeline watcher) and minimal environment of a guest (pure)
 *   image.ts           resolving and checking an image path, or a command's executable
 *   line-splitter.ts   bounded splitting of a guest's output into lines
 *   options.ts         options, defaults and their checks
 */
export { DEFAULT_INHERITED_ENV, type LogSink, type LogStream, type ProcessDriverOptions } from "./options.js";
export { createProcessDriver } from "./process-driver.js";
