// Text line endings for what Mailyard sends or encloses (as Postfix's cleanup_replace_stray_cr_lf,
// but keeping the lines): a bare CR or bare LF becomes CRLF and NUL is dropped, so the only line
// ending in the result is CRLF. Receipt refuses such bytes in text (DataDecoder), so this is
// defence in depth for text that came another way (local sources, queue files written before,
// an enclosed original): dot-stuffing (RFC 5321 §4.5.2) only protects lines that start after
// CRLF, and a next hop that also ends data at "\n.\n" or "\r.\r" would read a forged end of data
// from a stray one (SMTP smuggling). NUL has no place in text (RFC 2045 §2.8). No I/O.
const CR = 0x0d;
const LF = 0x0a;

/** True when every CR is followed by LF, every LF follows a CR, and there is no NUL. */
export function isCrlfText(b: Buffer): boolean {
  if (b.includes(0)) return false;
  for (let i = b.indexOf(LF); i >= 0; i = b.indexOf(LF, i + 1)) if (i === 0 || b[i - 1] !== CR) return false;
  for (let i = b.indexOf(CR); i >= 0; i = b.indexOf(CR, i + 1)) if (b[i + 1] !== LF) return false;
  return true;
}

/** b with stray CR and LF made CRLF and NUL removed; b itself when there is nothing to change. */
export function straysToCrlf(b: Buffer): Buffer {
  if (isCrlfText(b)) return b;
  const out = Buffer.allocUnsafe(b.length * 2);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0) continue;
    if (c === CR) {
      out[n++] = CR;
      out[n++] = LF;
      if (b[i + 1] === LF) i++;
    } else if (c === LF) {
      out[n++] = CR;
      out[n++] = LF;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}

/** straysToCrlf over a stream cut anywhere: a CR ending a chunk waits for the next byte. */
export class CrlfText {
  private heldCr = false;

  push(chunk: Buffer): Buffer {
    let c = chunk;
    if (this.heldCr && c.length > 0) {
      c = Buffer.concat([CR_BYTE, c]);
      this.heldCr = false;
    }
    if (c.length > 0 && c[c.length - 1] === CR) {
      c = c.subarray(0, c.length - 1);
      this.heldCr = true;
    }
    return straysToCrlf(c);
  }

  /** What is left at the end: CRLF for a CR held back (a bare CR), else nothing. */
  end(): Buffer {
    const left = this.heldCr ? CRLF_BYTES : EMPTY;
    this.heldCr = false;
    return left;
  }
}

const CR_BYTE = Buffer.from("\r");
const CRLF_BYTES = Buffer.from("\r\n");
const EMPTY = Buffer.alloc(0);
