/**
 * @froctal/agent/core: the agent's pure parts that another package may drive
 * without a socket, a timer or Node: today the guest's configuration machine
 * (prepare / commit / abort), the very one every agent runs. A test of the
 * manager's rollout feeds it the frames the manager sends (decoded with
 * @froctal/protocol, turned into commands by configCommandOf), awaits handle(),
 * and hands the manager the answers `send` received.
 */
export {
  type Ack,
  type ConfigCommand,
  type ConfigFrame,
  type ConfigHandler,
  ConfigMachine,
  type ConfigMachineOptions,
  configCommandOf,
  decodeConfig,
} from "./config.js";
