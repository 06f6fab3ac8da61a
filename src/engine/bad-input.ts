/** Byte- and text-level checks of records before they are decoded (see the processor). */
import { isUtf8 } from 'node:buffer';
import type { Lines } from './records.js';

/**
 * Whether every line of a chunk is UTF-8 text, checked with one pass over the bytes from the first
 * line's start to the last line's end. When it says true, each line still needs
 * `startsMidCharacter` false at its start and at its end (the byte after it): lines may sit back
 * to back (Kafka values), and two invalid halves of a character make valid text together. Bytes
 * between lines are ASCII newlines, if any.
 */
export function linesAreUtf8(lines: Lines, firstStart: number, count: number): boolean {
  return count === 0 || isUtf8(lines.bytes.subarray(firstStart, lines.ends[count - 1]));
}

/**
 * True when bytes[at] continues a character (0b10xxxxxx): a line that starts so is not UTF-8 on
 * its own, nor is one followed by such a byte. Where the whole region is UTF-8, a line with
 * neither starts and ends on character boundaries, so it is UTF-8 too.
 */
export function startsMidCharacter(bytes: Buffer, at: number): boolean {
  return (bytes[at] & 0xc0) === 0x80;
}

export { isUtf8 };

/** The index of the first byte where `bytes` stops being UTF-8 (RFC 3629), or -1 when all of it is. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let length: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [length, min] = [2, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [length, min] = [3, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [length, min] = [4, 0x10000];
    else return i;
    if (i + length > bytes.length) return i;
    let code = b & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) return i;
      code = (code << 6) | (c & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += length;
  }
  return -1;
}

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests objects and arrays deeper than `maxDepth` (a top-level object is 1;
 * brackets inside strings do not count). Text with few brackets at all is answered by two native
 * searches; only text with more than maxDepth of them is scanned character by character.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let brackets = 0;
  for (let at = text.indexOf('{'); at >= 0 && brackets <= maxDepth; at = text.indexOf('{', at + 1)) brackets++;
  for (let at = text.indexOf('['); at >= 0 && brackets <= maxDepth; at = text.indexOf('[', at + 1)) brackets++;
  if (brackets <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}
