// Web-standard globals every JavaScript runtime provides. The core compiles
// without Node's types (so node:* cannot creep in); these few are declared here.
declare class TextDecoder {
  decode(input?: Uint8Array): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare const crypto: { getRandomValues<T extends Uint8Array>(array: T): T };
