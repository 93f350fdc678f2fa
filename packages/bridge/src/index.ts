/**
 * @froctal/bridge: guests' byte-stream channels (virtio-serial sockets, vchan)
 * relayed to the manager's stream endpoint, identity by channel.
 *
 *   bridge.ts   Bridge: level-triggered set of channel connections with reconnects
 */
export { Bridge, type BridgeOptions, type BridgeStats, type ChannelSocket, type StreamEndpoint } from "./bridge.js";
