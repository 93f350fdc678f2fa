/**
 * Configures the protobufjs runtime. This is a module of its own, imported by
 * wire.ts before the generated code, because the generated message prototypes
 * take their 64-bit defaults from util.Long when they are evaluated: configured
 * any later, an absent uint64 field (every proto3 zero) would read as a Long
 * object instead of 0 and fail validation.
 */
import $protobuf from "protobufjs/minimal.js";

// 64-bit fields (sequence numbers, generations, timestamps) decode to plain
// numbers rather than Long objects: every value we send stays below 2^53, and
// validation rejects the ones that do not.
$protobuf.util.Long = null as unknown as typeof $protobuf.util.Long;
$protobuf.configure();
// Unknown fields are ignored (forward compatibility), not kept: keeping them
// would let a peer make us hold bytes we never read.
$protobuf.Reader.discardUnknown = true;
