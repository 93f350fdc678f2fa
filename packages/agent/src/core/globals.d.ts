// Web-standard globals every JavaScript runtime provides. The core compiles
// without Node's types (so node:* and Node globals cannot creep in); the few
// it uses are declared here.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class URL {
  constructor(url: string);
  readonly hostname: string;
  readonly href: string;
}
