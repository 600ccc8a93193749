// The one part of hpack.js we use: the Huffman code of RFC 7541 Appendix B as data.
declare module "hpack.js/lib/hpack/huffman" {
  /** For each symbol 0..256 (256 = EOS): [bit length, code]. */
  export const encode: ReadonlyArray<readonly [number, number]>;
}
