import { describe, expect, it } from "vitest";
import { child, escapeXml, parseXml } from "./xml.js";

describe("parseXml", () => {
  it("reads elements, attributes of either quote, text, entities, CDATA and skips comments and declarations", () => {
    const root = parseXml(
      `<?xml version="1.0"?>\n<!-- a comment -->\n<domain type='test' id="1">\n  <name>a &amp; b &#x41;&#66;</name>\n` +
        `  <metadata><x:i xmlns:x="urn:x" v="&quot;q&apos; &lt;&gt;"/></metadata>\n  <cmd><![CDATA[<raw> & ]]></cmd>\n</domain>\n`,
    );
    expect(root.name).toBe("domain");
    expect(root.attributes.get("type")).toBe("test");
    expect(root.attributes.get("id")).toBe("1");
    expect(child(root, "name")?.text).toBe("a & b AB");
    const x = child(root, "metadata")?.children[0];
    expect(x?.name).toBe("x:i");
    expect(x?.attributes.get("v")).toBe(`"q' <>`);
    expect(child(root, "cmd")?.text).toBe("<raw> & ");
  });

  it.each([
    ["<a><b></a>", /does not close/],
    ["<a>", /never closed/],
    ["<a/><b/>", /second root/],
    ["text", /outside the root/],
    ["<a x='1' x='2'/>", /repeated attribute/],
    ['<!DOCTYPE a [<!ENTITY e "boom">]><a>&e;</a>', /DTD/],
    ["<a>&nope;</a>", /unknown entity/],
    ["", /no root/],
    ["<a b=c/>", /malformed start tag/],
  ])("refuses %j", (xml, why) => {
    expect(() => parseXml(xml)).toThrow(why);
  });

  it("escapes what it decodes", () => {
    const value = `<a href="x">'&'</a>`;
    expect(parseXml(`<v k="${escapeXml(value)}">${escapeXml(value)}</v>`)).toMatchObject({ text: value });
    expect(parseXml(`<v k="${escapeXml(value)}"/>`).attributes.get("k")).toBe(value);
  });
});
