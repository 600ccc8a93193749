import type { HeaderFields } from "./hpack-decoder";

/** What `checkRequestFields` found: an error to reset the stream with, and the declared content-length. */
export interface RequestCheck {
  /** Why the request is malformed (RFC 9113 8.1.1: a stream error PROTOCOL_ERROR); undefined when it is not. */
  readonly error: string | undefined;
  /** The content-length header as a number, or -1 without one. */
  readonly contentLength: number;
}

// The characters of a field name: lower-case token characters (RFC 9110 5.6.2; upper case is malformed in
// HTTP/2, RFC 9113 8.2.1). A table, not a regular expression: this runs for every field of every request.
const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

function isFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 127 || NAME_CHAR[c] === 0) return false;
  }
  return true;
}
const PSEUDO_HEADERS = new Set([":method", ":scheme", ":path", ":authority"]);
// Connection-specific header fields (RFC 9113 8.2.2).
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);
const DIGITS = /^[0-9]{1,15}$/;
const VALID: RequestCheck = Object.freeze({ error: undefined, contentLength: -1 });

/** Why a field value is malformed, or undefined: NUL/CR/LF, or leading/trailing space or tab. */
export function valueError(value: string): string | undefined {
  if (value.length === 0) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return "field value with NUL, CR or LF";
  }
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) {
    return "field value with leading or trailing whitespace";
  }
  return undefined;
}

// Why a regular (not pseudo) field is malformed, or undefined.
function regularFieldError(name: string, value: string): string | undefined {
  if (!isFieldName(name)) return `malformed field name "${printable(name)}"`;
  if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
  if (name === "te" && value !== "trailers") return "te other than trailers";
  return valueError(value);
}

/**
 * Checks a request's header fields as RFC 9113 8.1-8.3 asks: pseudo-headers
 * known, not repeated, before every regular field, with :method, :scheme and
 * :path present (:path not empty; CONNECT with :authority only); field names
 * lower-case tokens; no connection-specific fields; te only "trailers";
 * values without NUL, CR, LF or surrounding whitespace; content-length
 * digits (repeated only with the same value); a host that names the
 * same authority as :authority (RFC 9113 8.3.1).
 */
export function checkRequestFields(fields: HeaderFields): RequestCheck {
  let method: string | undefined;
  let scheme: string | undefined;
  let path: string | undefined;
  let authority: string | undefined;
  let host: string | undefined;
  let contentLength = -1;
  let regularSeen = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    if (name.charCodeAt(0) === 0x3a) {
      if (regularSeen) return malformed("pseudo-header after a regular field");
      if (!PSEUDO_HEADERS.has(name)) return malformed(`unknown pseudo-header ${printable(name)}`);
      const error = valueError(value);
      if (error !== undefined) return malformed(error);
      if (name === ":method") {
        if (method !== undefined) return malformed("repeated :method");
        method = value;
      } else if (name === ":scheme") {
        if (scheme !== undefined) return malformed("repeated :scheme");
        scheme = value;
      } else if (name === ":path") {
        if (path !== undefined) return malformed("repeated :path");
        path = value;
      } else {
        if (authority !== undefined) return malformed("repeated :authority");
        authority = value;
      }
      continue;
    }
    regularSeen = true;
    const error = regularFieldError(name, value);
    if (error !== undefined) return malformed(error);
    if (name === "content-length") {
      if (!DIGITS.test(value)) return malformed("content-length not a number");
      const length = Number(value);
      if (contentLength !== -1 && contentLength !== length) return malformed("content-length repeated differently");
      contentLength = length;
    } else if (name === "host") {
      if (host !== undefined && host !== value) return malformed("host repeated differently");
      host = value;
    }
  }
  if (method === undefined) return malformed("no :method");
  if (method === "CONNECT") {
    if (authority === undefined || scheme !== undefined || path !== undefined) return malformed("malformed CONNECT");
  } else {
    if (scheme === undefined) return malformed("no :scheme");
    if (path === undefined || path.length === 0) return malformed("no :path");
  }
  if (host !== undefined && authority !== undefined && !sameAuthority(host, authority, scheme)) {
    return malformed("host differs from :authority");
  }
  return contentLength === -1 ? VALID : { error: undefined, contentLength };
}

/**
 * `checkRequestFields` that remembers the last request it checked: a client
 * sends much the same fields with every request, and when all of them equal
 * the last request's (names and values, in order) the answer is the last
 * answer, without checking every character again. One per connection; it
 * holds one request's fields.
 */
export class RequestFieldsChecker {
  private last: HeaderFields = [];
  private lastCheck: RequestCheck = malformed("no request yet");

  /** What `checkRequestFields(fields)` says. */
  check(fields: HeaderFields): RequestCheck {
    const last = this.last;
    if (fields.length === last.length && fields.length > 0) {
      let same = true;
      for (let i = 0; i < fields.length; i++) {
        if (fields[i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastCheck;
    }
    const check = checkRequestFields(fields);
    this.last = fields;
    this.lastCheck = check;
    return check;
  }
}

/** Why trailers are malformed (pseudo-headers, bad names or values), or undefined. */
export function checkTrailerFields(fields: HeaderFields): string | undefined {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    if (name.charCodeAt(0) === 0x3a) return "pseudo-header in trailers";
    const error = regularFieldError(name, fields[i + 1] as string);
    if (error !== undefined) return error;
  }
  return undefined;
}

// RFC 9113 8.3.1: "A server SHOULD treat a request as malformed if it contains a Host header field that identifies
// an entity that differs from the entity in the ":authority" pseudo-header field", compared after scheme-based
// normalization (RFC 3986 6.2.3): host names case-insensitively, the scheme's default port the same as none.
function sameAuthority(host: string, authority: string, scheme: string | undefined): boolean {
  if (host === authority) return true;
  const defaultPort = scheme === "https" ? ":443" : scheme === "http" ? ":80" : undefined;
  const normal = (value: string): string => {
    const lower = value.toLowerCase();
    return defaultPort !== undefined && lower.endsWith(defaultPort) ? lower.slice(0, -defaultPort.length) : lower;
  };
  return normal(host) === normal(authority);
}

function malformed(error: string): RequestCheck {
  return { error, contentLength: -1 };
}

// A name for a message: control characters escaped.
function printable(text: string): string {
  return JSON.stringify(text.slice(0, 64)).slice(1, -1);
}
