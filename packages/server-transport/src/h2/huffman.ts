import { encode as HUFFMAN_CODES } from "hpack.js/lib/hpack/huffman";

/** A string literal of a header block that is not valid Huffman code (RFC 7541 5.2). */
export class HuffmanError extends Error {
  override readonly name = "HuffmanError";
}

const EOS = 256;

// A binary decoding tree over the RFC 7541 code (data from hpack.js): node n
// has children TREE[2n] (bit 0) and TREE[2n+1] (bit 1); a child >= 0 is a
// node, a child < 0 is the leaf of symbol -child - 1; 0 is "no child" (the
// root is never a child).
const TREE = buildTree();
// Where decoded symbols are gathered before they become a string (grown as needed, never shrunk: a header
// list is bounded by the connection's limit).
let scratch = Buffer.allocUnsafe(256);

function buildTree(): Int32Array {
  const tree = new Int32Array(2 * 512);
  let nodes = 1;
  HUFFMAN_CODES.forEach(([bits, code], symbol) => {
    let node = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (i === 0) {
        tree[slot] = -symbol - 1;
      } else {
        if (tree[slot] === 0) tree[slot] = nodes++;
        node = tree[slot] as number;
      }
    }
  });
  return tree;
}

/**
 * Decodes the Huffman-coded bytes `source[start, end)` as a Latin-1 string.
 * Throws `HuffmanError` on the EOS symbol, or padding longer than 7 bits or
 * not all ones.
 */
export function decodeHuffman(source: Uint8Array, start: number, end: number): string {
  // At most 8/5 of a symbol per bit of input (the shortest code has 5 bits).
  const most = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < most) scratch = Buffer.allocUnsafe(Math.max(most, 2 * scratch.length));
  const out = scratch;
  let length = 0;
  let node = 0;
  let depth = 0; // bits read since the last symbol
  let ones = true; // and all of them were 1
  for (let i = start; i < end; i++) {
    const byte = source[i] as number;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >>> b) & 1;
      const next = TREE[2 * node + bit] as number;
      if (next < 0) {
        const symbol = -next - 1;
        if (symbol === EOS) throw new HuffmanError("Huffman string contains EOS");
        out[length++] = symbol;
        node = 0;
        depth = 0;
        ones = true;
      } else {
        node = next;
        depth++;
        if (bit === 0) ones = false;
      }
    }
  }
  if (depth > 7 || !ones) throw new HuffmanError("Huffman string has invalid padding");
  return out.toString("latin1", 0, length);
}
