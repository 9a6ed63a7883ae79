// RFC 3461 §4 xtext encoding for ENVID and ORCPT values sent to a remote server. No I/O.
// Input comes from our own envelope (already decoded on receipt); output is pure ASCII.

/** Characters outside "!" .. "~", and "+" and "=", become "+XX" (uppercase hex) per UTF-8 byte. */
export function xtextEncode(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    if (byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d) out += String.fromCharCode(byte);
    else out += "+" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}
