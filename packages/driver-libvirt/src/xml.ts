/**
 * A small reader for the XML libvirt writes and domain templates contain:
 * elements, attributes, text, comments, CDATA and the five named entities plus
 * numeric ones. No DTDs, no entity definitions, no namespaces resolution beyond
 * what callers do with the `xmlns:*` attributes. It exists so that reading a
 * few fields back from `domainGetXMLDesc` needs no XML dependency; anything it
 * cannot read is refused, never guessed.
 */

export interface XmlElement {
  /** The qualified name as written, prefix included ("froctal:instance"). */
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  /** The element's own text (CDATA included), decoded, children's text excluded. */
  readonly text: string;
}

/** Domain XML is a few KiB; a document far beyond that is not one we wrote. */
export const MAX_XML_CHARS = 4 * 1024 * 1024;

interface OpenElement {
  name: string;
  attributes: Map<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /[A-Za-z_][\w.:-]*/y;
const ATTRIBUTE = /\s+([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/y;
const TAG_END = /\s*(\/?)>/y;

/** Parses one document; throws an Error naming the offset when it is not XML this reader understands. */
export function parseXml(xml: string): XmlElement {
  if (xml.length > MAX_XML_CHARS)
    throw new Error(`the document has ${xml.length} characters, more than ${MAX_XML_CHARS}`);
  const stack: OpenElement[] = [];
  let root: XmlElement | undefined;
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at offset ${at}`);
  };
  // Bounded: every pass consumes at least one character.
  while (at < xml.length) {
    const lt = xml.indexOf("<", at);
    const textEnd = lt === -1 ? xml.length : lt;
    if (textEnd > at) {
      const text = xml.slice(at, textEnd);
      const top = stack.at(-1);
      if (top !== undefined) top.text += decodeEntities(text);
      else if (text.trim() !== "") fail("text outside the root element");
      at = textEnd;
      continue;
    }
    if (xml.startsWith("<!--", at)) {
      at = skipPast(xml, at, "-->", fail);
    } else if (xml.startsWith("<![CDATA[", at)) {
      const end = xml.indexOf("]]>", at);
      if (end === -1) fail("an unterminated CDATA section");
      const top = stack.at(-1);
      if (top === undefined) fail("CDATA outside the root element");
      top!.text += xml.slice(at + 9, end);
      at = end + 3;
    } else if (xml.startsWith("<?", at)) {
      at = skipPast(xml, at, "?>", fail);
    } else if (xml.startsWith("<!", at)) {
      fail("a DTD or declaration, which this reader refuses");
    } else if (xml.startsWith("</", at)) {
      NAME.lastIndex = at + 2;
      const name = NAME.exec(xml)?.[0] ?? fail("a malformed end tag");
      const close = /\s*>/y;
      close.lastIndex = at + 2 + name.length;
      if (close.exec(xml) === null) fail("a malformed end tag");
      const open = stack.pop();
      if (open?.name !== name) fail(`</${name}> does not close <${open?.name ?? "nothing"}>`);
      at = close.lastIndex;
      const element: XmlElement = open!;
      const parent = stack.at(-1);
      if (parent !== undefined) parent.children.push(element);
      else root = element;
    } else {
      if (root !== undefined) fail("a second root element");
      NAME.lastIndex = at + 1;
      const name = NAME.exec(xml)?.[0] ?? fail("a malformed start tag");
      at += 1 + name.length;
      const attributes = new Map<string, string>();
      for (;;) {
        ATTRIBUTE.lastIndex = at;
        const match = ATTRIBUTE.exec(xml);
        if (match === null) break;
        const key = match[1]!;
        if (attributes.has(key)) fail(`a repeated attribute ${key}`);
        attributes.set(key, decodeEntities(match[2] ?? match[3] ?? ""));
        at = ATTRIBUTE.lastIndex;
      }
      TAG_END.lastIndex = at;
      const end = TAG_END.exec(xml) ?? fail(`a malformed start tag <${name}>`);
      at = TAG_END.lastIndex;
      const element: OpenElement = { name, attributes, children: [], text: "" };
      if (end[1] === "/") {
        const parent = stack.at(-1);
        if (parent !== undefined) parent.children.push(element);
        else root = element;
      } else {
        stack.push(element);
      }
    }
  }
  if (stack.length > 0) fail(`<${stack.at(-1)!.name}> is never closed`);
  return root ?? fail("no root element");
}

/** The first direct child called `name`, if any. */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

/** Escapes text for use in element content and in attribute values of either quote. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);/g, (whole, body: string) => {
    if (body.startsWith("#")) {
      const code = body[1] === "x" ? Number.parseInt(body.slice(2), 16) : Number.parseInt(body.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    const named = NAMED[body];
    if (named === undefined) throw new Error(`an unknown entity ${whole}`);
    return named;
  });
}

function skipPast(xml: string, at: number, terminator: string, fail: (why: string) => never): number {
  const end = xml.indexOf(terminator, at);
  if (end === -1) fail(`an unterminated construct (no ${terminator})`);
  return end + terminator.length;
}
