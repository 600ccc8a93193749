import { AddressError, formatAddress, isAddressLiteral, parseAddress } from "../src";

describe("parseAddress", () => {
  it.each([
    ["0.0.0.0", "ipv4", [0, 0, 0, 0]],
    ["192.0.2.1", "ipv4", [192, 0, 2, 1]],
    ["255.255.255.255", "ipv4", [255, 255, 255, 255]],
    ["::", "ipv6", new Array(16).fill(0)],
    ["2001:db8::1", "ipv6", [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ["::ffff:192.0.2.1", "ipv6", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]],
  ])("%s is %s", (text, version, bytes) => {
    expect(parseAddress(text)).toEqual({ version, bytes: Uint8Array.from(bytes) });
  });

  it.each([
    "",
    "localhost",
    "1.2.3",
    "10.1",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.4/24",
    "1.2.3.4 ",
    "0x7f.0.0.1",
    "2001:db8::1::2",
    "2001:db8::g",
    "fe80::1%eth0",
    "[::1]",
    "12345::",
  ])("%p is refused with an AddressError", (text) => {
    expect(() => parseAddress(text)).toThrow(AddressError);
    expect(isAddressLiteral(text)).toBe(false);
  });
});

describe("formatAddress", () => {
  it.each([
    [[192, 0, 2, 1], "192.0.2.1"],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "2001:db8::1"],
    [new Array(16).fill(0), "::"],
  ])("%p -> %s, and back", (bytes, text) => {
    expect(formatAddress(Uint8Array.from(bytes))).toBe(text);
    expect(parseAddress(text).bytes).toEqual(Uint8Array.from(bytes));
  });

  it.each([0, 3, 5, 15, 17])("refuses %i bytes", (n) => {
    expect(() => formatAddress(new Uint8Array(n))).toThrow(/4 or 16 bytes/);
  });
});
