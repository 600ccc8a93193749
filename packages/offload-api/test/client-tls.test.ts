import {
  createInsecureCredentials,
  createTlsCredentials,
  type OffloadCredentials,
} from "@sessionoffload/server-transport";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";
import { createOffloadClient, OffloadError, ValidationError, type ClientCredentialsOptions } from "../src";
import { startFixture, tcpSession, type Fixture } from "./client-fixtures";

interface Pem {
  readonly cert: string;
  readonly key: string;
}

function rsaKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  // Native key generation (pure-JS RSA in forge takes seconds).
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), pem };
}

function certificate(
  subject: string,
  serial: string,
  issuer: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } | undefined,
  extensions: object[],
): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey; pem: Pem } {
  const keys = rsaKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const attrs = [{ name: "commonName", value: subject }];
  cert.setSubject(attrs);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : attrs);
  cert.setExtensions(extensions);
  cert.sign(issuer?.key ?? keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey, pem: { cert: forge.pki.certificateToPem(cert), key: keys.pem } };
}

/** A dev CA, a server certificate for 127.0.0.1/localhost/offload.test, and a client certificate. */
function makePki(): { ca: Pem; server: Pem; client: Pem; stranger: Pem } {
  const ca = certificate("offload test CA", "01", undefined, [
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
  ]);
  const server = certificate("localhost", "02", ca, [
    { name: "basicConstraints", cA: false },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        { type: 2, value: "localhost" },
        { type: 2, value: "offload.test" },
        { type: 7, ip: "127.0.0.1" },
      ],
    },
  ]);
  const client = certificate("firewall-1", "03", ca, [
    { name: "basicConstraints", cA: false },
    { name: "extKeyUsage", clientAuth: true },
  ]);
  const otherCa = certificate("someone else's CA", "04", undefined, [{ name: "basicConstraints", cA: true }]);
  const stranger = certificate("stranger", "05", otherCa, [{ name: "extKeyUsage", clientAuth: true }]);
  return { ca: ca.pem, server: server.pem, client: client.pem, stranger: stranger.pem };
}

// A CA nobody here trusts: signs nothing the fixture serves.
function createUntrustedCa(): string {
  return certificate("untrusted CA", "06", undefined, [{ name: "basicConstraints", cA: true }]).pem.cert;
}

let pki: ReturnType<typeof makePki>;
let dir: string;
beforeAll(() => {
  pki = makePki();
  dir = mkdtempSync(join(tmpdir(), "offload-client-tls-"));
  writeFileSync(join(dir, "ca.pem"), pki.ca.cert);
  writeFileSync(join(dir, "client.pem"), pki.client.cert);
  writeFileSync(join(dir, "client-key.pem"), pki.client.key, { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

function serverCredentials(mutual: boolean): OffloadCredentials {
  return createTlsCredentials({
    key: pki.server.key,
    cert: pki.server.cert,
    ca: mutual ? pki.ca.cert : undefined,
    requireClientCert: mutual,
  });
}

/**
 * The fixture's 127.0.0.1 address by name, as TLS clients should connect: grpc-js sends an IP target
 * as the TLS server name (SNI), which RFC 6066 forbids and Node deprecates (DEP0123).
 */
function byName(address: string): string {
  return address.replace(/^127\.0\.0\.1:/, "localhost:");
}

async function tryAdd(credentials: ClientCredentialsOptions, mutual: boolean, serverName?: string): Promise<string> {
  fixture = await startFixture({ serverCredentials: serverCredentials(mutual) });
  const client = createOffloadClient({
    sessionsAddress: byName(fixture.sessionsAddress),
    statsAddress: byName(fixture.statsAddress),
    credentials,
    serverName,
    retry: false,
  });
  try {
    const result = await client.addSession(tcpSession(1));
    return result.kind;
  } catch (err) {
    if (err instanceof OffloadError) return `error ${err.codeName}`;
    throw err;
  } finally {
    client.close();
  }
}

describe("TLS", () => {
  it("trusts the dev CA given inline", async () => {
    expect(await tryAdd({ ca: pki.ca.cert }, false)).toBe("accepted");
  });

  it("trusts the dev CA given as a file", async () => {
    expect(await tryAdd({ caFile: join(dir, "ca.pem") }, false)).toBe("accepted");
  });

  it("refuses a server whose CA it does not trust (system roots only)", async () => {
    expect(await tryAdd({}, false)).toBe("error UNAVAILABLE");
  });

  it("a plaintext client cannot talk to a TLS server", async () => {
    expect(await tryAdd({ insecure: true }, false)).toBe("error UNAVAILABLE");
  });

  it("serverName verifies the certificate against another name than the target", async () => {
    expect(await tryAdd({ ca: pki.ca.cert }, false, "offload.test")).toBe("accepted");
    await fixture?.close();
    fixture = undefined;
    expect(await tryAdd({ ca: pki.ca.cert }, false, "not-in-the-cert.test")).toBe("error UNAVAILABLE");
  });
});

describe("TLS failures are not retried", () => {
  // With the default policy (5 attempts): the first failure is final, and says what is wrong.
  async function failure(
    credentials: ClientCredentialsOptions,
    options: { mutual?: boolean; serverName?: string; plaintextServer?: boolean } = {},
  ): Promise<OffloadError> {
    fixture = await startFixture({
      serverCredentials: options.plaintextServer ? createInsecureCredentials() : serverCredentials(!!options.mutual),
    });
    const retries: number[] = [];
    const client = createOffloadClient({
      sessionsAddress: byName(fixture.sessionsAddress),
      statsAddress: byName(fixture.statsAddress),
      credentials,
      serverName: options.serverName,
      onRetry: (e) => retries.push(e.attempt),
    });
    try {
      await client.addSession(tcpSession(1));
    } catch (err) {
      expect(retries).toEqual([]);
      expect(err).toBeInstanceOf(OffloadError);
      return err as OffloadError;
    } finally {
      client.close();
    }
    throw new Error("expected the call to fail");
  }

  it.each([
    [
      "an untrusted CA",
      () => ({ ca: createUntrustedCa() }),
      {},
      /not signed by a CA the client trusts.*first certificate/,
    ],
    ["the system roots only", () => ({}), {}, /not signed by a CA the client trusts/],
    [
      "a certificate for another name",
      () => ({ ca: pki.ca.cert }),
      { serverName: "not-in-the-cert.test" },
      /does not name the target.*not-in-the-cert\.test/,
    ],
    ["a plaintext server", () => ({ ca: pki.ca.cert }), { plaintextServer: true }, /does not speak TLS.*wrong version/],
  ] as Array<[string, () => ClientCredentialsOptions, { serverName?: string; plaintextServer?: boolean }, RegExp]>)(
    "%s: UNAVAILABLE at once, with the reason",
    async (_name, credentials, options, message) => {
      const err = await failure(credentials(), options);
      expect(err.codeName).toBe("UNAVAILABLE");
      expect(err.attempts).toBe(1);
      expect(err.message).toMatch(/^addSession: UNAVAILABLE: TLS handshake failed, not retried: /);
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain("\n");
    },
  );

  it("a client refused by a mutual-TLS server is not retried either", async () => {
    const err = await failure({ ca: pki.ca.cert }, { mutual: true });
    expect(err.attempts).toBe(1);
    expect(err.message).toMatch(
      /the server refused the client's certificate \(mutual TLS\) \(SSL: .*certificate required\)/,
    );
  });
});

describe("mutual TLS", () => {
  it("a client with a certificate signed by the server's client CA is served (files)", async () => {
    const creds = {
      caFile: join(dir, "ca.pem"),
      certFile: join(dir, "client.pem"),
      keyFile: join(dir, "client-key.pem"),
    };
    expect(await tryAdd(creds, true)).toBe("accepted");
  });

  it("a client without a certificate is refused", async () => {
    expect(await tryAdd({ ca: pki.ca.cert }, true)).toBe("error UNAVAILABLE");
  });

  it("a client whose certificate another CA signed is refused", async () => {
    expect(await tryAdd({ ca: pki.ca.cert, cert: pki.stranger.cert, key: pki.stranger.key }, true)).toBe(
      "error UNAVAILABLE",
    );
  });
});

describe("credential options are checked when the client is created", () => {
  it.each([
    [{ cert: "x" }, "credentials.key"],
    [{ keyFile: "/nonexistent/key.pem" }, "credentials.keyFile"],
    [{ caFile: "/nonexistent/ca.pem" }, "credentials.caFile"],
    [{ ca: "x", caFile: "/tmp/ca.pem" }, "credentials.ca"],
  ] as Array<[ClientCredentialsOptions, string]>)("%j -> ValidationError on %s", (credentials, field) => {
    let caught: unknown;
    try {
      createOffloadClient({ credentials }).close();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).field).toBe(field);
  });
});
