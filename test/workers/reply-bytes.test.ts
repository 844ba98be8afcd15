/**
 * The bytes a pool thread sends for a JSON reply: what Buffer.from(text, 'utf8') gives, ASCII or not, in a
 * buffer of their own (so that they move to the event loop by transfer).
 */
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/workers/worker.js';

describe("a JSON reply's bytes", () => {
  it.each([
    ['numbers (ASCII, written as Latin-1)', JSON.stringify({ a: [0.5, -1e-300, 12345.678] })],
    ['an accented letter', JSON.stringify({ verdict: 'réussi', a: [1] })],
    ['a character beyond the BMP', '{"note":"😀"}'],
    ['a lone surrogate (as UTF-8 encodes it: U+FFFD)', '{"note":"\ud800"}'],
    ['Latin-1 letters only', '{"ÿ":"é"}'],
    ['nothing', ''],
  ])('%s: the UTF-8 bytes, owning their buffer', (_, text) => {
    const bytes = utf8(text);
    expect(Buffer.from(bytes).equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
  });
});
