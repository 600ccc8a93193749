import { createInsecureCredentials, createTlsCredentials, type OffloadCredentials } from "../src";
import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import {
  credentials,
  makeGenericClientConstructor,
  ServerCredentials,
  status,
  type ChannelCredentials,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import forge from "node-forge";
import { createSessionServer } from "@sessionoffload/session-server";
import { createStatsServer } from "@sessionoffload/stats-server";
import { createMemorySwitch, type SwitchBackend } from "@sessionoffload/switch-backend";
import { sessionsV1 } from "@sessionoffload/offload-api";
import type { OffloadServer } from "../src";
import { addRequestBytes, frame, rawCall, until, testTransport, onNative } from "./call-support";

// The transport under test: native unless a grpc-js-transport wrapper file asks for grpc-js.
const transport = testTransport();

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Pem {
  readonly cert: string;
  readonly key: string;
}

function issue(
  subject: string,
  serial: string,
  issuer: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } | undefined,
  extensions: object[],
): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey; pem: Pem } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  const attrs = [{ name: "commonName", value: subject }];
  cert.setSubject(attrs);
  cert.setIssuer(issuer ? issuer.cert.subject.attributes : attrs);
  cert.setExtensions(extensions);
  cert.sign(issuer?.key ?? key, forge.md.sha256.create());
  return { cert, key, pem: { cert: forge.pki.certificateToPem(cert), key: keyPem } };
}

let pki: { ca: Pem; server: Pem; client: Pem };
beforeAll(() => {
  const ca = issue("transport test CA", "01", undefined, [{ name: "basicConstraints", cA: true, critical: true }]);
  const server = issue("localhost", "02", ca, [
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        { type: 2, value: "localhost" },
        { type: 7, ip: "127.0.0.1" },
      ],
    },
  ]);
  const client = issue("firewall-1", "03", ca, [{ name: "extKeyUsage", clientAuth: true }]);
  pki = { ca: ca.pem, server: server.pem, client: client.pem };
});

function serverTls(mutual: boolean): OffloadCredentials {
  return createTlsCredentials({
    key: pki.server.key,
    cert: pki.server.cert,
    ca: pki.ca.cert,
    requireClientCert: mutual,
  });
}

function memorySwitch(): ReturnType<typeof createMemorySwitch> {
  const backend = createMemorySwitch({ capacity: 100, traffic: false, tickIntervalMs: 0 });
  cleanups.push(() => backend.close());
  return backend;
}

async function listen(server: OffloadServer): Promise<number> {
  cleanups.push(() => server.shutdown());
  return server.listen("127.0.0.1:0");
}

function addSession(port: number, creds: ChannelCredentials): Promise<{ err: ServiceError | null; id?: bigint }> {
  // By name: grpc-js sends an IP target as the TLS server name, which Node deprecates (DEP0123).
  const client = new sessionsV1.SessionTableClient(`localhost:${port}`, creds);
  cleanups.push(() => client.close());
  const request = sessionsV1.sessionRequest.decode(addRequestBytes());
  return new Promise((resolve) => client.addSession(request, (err, res) => resolve({ err, id: res?.sessionId })));
}

describe("native routes over TLS", () => {
  it("serves TLS clients", async () => {
    const server = createSessionServer({ transport, backend: memorySwitch(), credentials: serverTls(false) });
    const port = await listen(server);
    const { err, id } = await addSession(port, credentials.createSsl(Buffer.from(pki.ca.cert)));
    expect(err).toBeNull();
    expect(id).toBe(1n);
    expect(server.nativeCalls.served).toBe(onNative(1));
  });

  it("serves mutual TLS clients with a certificate and refuses those without", async () => {
    const server = createSessionServer({ transport, backend: memorySwitch(), credentials: serverTls(true) });
    const port = await listen(server);
    const withCert = credentials.createSsl(
      Buffer.from(pki.ca.cert),
      Buffer.from(pki.client.key),
      Buffer.from(pki.client.cert),
    );
    expect((await addSession(port, withCert)).id).toBe(1n);
    const without = await addSession(port, credentials.createSsl(Buffer.from(pki.ca.cert)));
    expect(without.err?.code).toBe(status.UNAVAILABLE);
    expect(server.nativeCalls.served).toBe(onNative(1));
  });

  it("takes a grpc-js ServerCredentials on grpc-js only; native throws a TypeError naming the way out", async () => {
    const grpcCredentials = ServerCredentials.createSsl(
      Buffer.from(pki.ca.cert),
      [{ private_key: Buffer.from(pki.server.key), cert_chain: Buffer.from(pki.server.cert) }],
      false,
    );
    const make = (kind: "native" | "grpc-js") =>
      createSessionServer({ transport: kind, backend: memorySwitch(), credentials: grpcCredentials });
    expect(() => make("native")).toThrow(TypeError);
    expect(() => make("native")).toThrow(/createTlsCredentials.*transport: "grpc-js"/);
    const server = make("grpc-js");
    const port = await listen(server);
    expect((await addSession(port, credentials.createSsl(Buffer.from(pki.ca.cert)))).id).toBe(1n);
  });

  it("refuses credentials it did not make", () => {
    const forged = { kind: "insecure" } as unknown as OffloadCredentials;
    expect(() => createSessionServer({ transport, backend: memorySwitch(), credentials: forged })).toThrow(TypeError);
  });

  it("checks TLS credentials when they are made", () => {
    const { key, cert } = pki.server;
    expect(() => createTlsCredentials({ key: "not pem", cert })).toThrow(/key must be PEM/);
    expect(() => createTlsCredentials({ key, cert, requireClientCert: true })).toThrow(
      /requireClientCert needs the ca/,
    );
    expect(() => createTlsCredentials({ key: pki.client.key, cert })).toThrow(
      /key values mismatch|KEY_VALUES_MISMATCH/i,
    );
    expect(createTlsCredentials({ key, cert }).requireClientCert).toBe(false);
  });
});

describe("grpc-js still serves the add-ons", () => {
  it("health answers SERVING through grpc-js while the table methods go native (on native)", async () => {
    const server = createSessionServer({
      transport,
      backend: memorySwitch(),
      credentials: createInsecureCredentials(),
    });
    const port = await listen(server);
    const Health = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "Health");
    const health = new Health(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client & {
      check(request: { service: string }, cb: (err: ServiceError | null, res?: { status: string }) => void): void;
    };
    cleanups.push(() => health.close());
    const answer = await new Promise<string | undefined>((resolve) =>
      health.check({ service: "sessions.v1.SessionTable" }, (err, res) => resolve(err ? err.message : res?.status)),
    );
    expect(answer).toBe("SERVING");
    expect(server.transport).toBe(transport);
    expect((await addSession(port, credentials.createInsecure())).id).toBe(1n);
    expect(server.nativeCalls.forwarded).toBe(onNative(1));
    expect(server.nativeCalls.served).toBe(onNative(1));
  });

  it("reflection lists the service through grpc-js", async () => {
    const server = createStatsServer({
      transport,
      backend: memorySwitch(),
      credentials: createInsecureCredentials(),
    });
    const port = await listen(server);
    // ServerReflectionRequest { list_services: "" } is field 7, an empty string.
    const raw = await rawCall(port, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", [
      frame(Buffer.from([0x3a, 0x00])),
    ]);
    expect(raw?.code).toBe(status.OK);
    expect(Buffer.concat(raw?.messages ?? []).toString("latin1")).toContain("sessions.v1.SessionStatisticsTable");
    expect(server.nativeCalls.forwarded).toBe(onNative(1));
    expect(server.nativeCalls.served).toBe(onNative(0));
  });
});

describe("graceful shutdown with calls in flight", () => {
  it("lets an in-flight call finish, refuses new calls, then resolves", async () => {
    const inner = memorySwitch();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = 0;
    const slow: SwitchBackend = {
      ...inner,
      add: async (spec) => {
        entered += 1;
        await gate;
        return inner.add(spec);
      },
    };
    const server = createSessionServer({ transport, backend: slow, credentials: createInsecureCredentials() });
    const port = await listen(server);
    const inFlight = addSession(port, credentials.createInsecure());
    await until(() => entered === 1);
    let stopped = false;
    const stopping = server.shutdown().then(() => (stopped = true));
    const late = await addSession(port, credentials.createInsecure());
    expect(late.err).not.toBeNull();
    expect(stopped).toBe(false);
    release();
    expect((await inFlight).id).toBe(1n);
    await stopping;
    expect(server.nativeCalls.served).toBe(onNative(1));
  });

  it.each([0, 1])("cancels calls still running after the grace period (channelz %d)", async (channelz) => {
    let entered = false;
    const never: SwitchBackend = {
      ...memorySwitch(),
      add: () => {
        entered = true;
        return new Promise(() => undefined);
      },
    };
    const server = createSessionServer({
      transport,
      backend: never,
      credentials: createInsecureCredentials(),
      shutdownTimeoutMs: 50,
      grpcOptions: { "grpc.enable_channelz": channelz },
    });
    const port = await listen(server);
    const inFlight = addSession(port, credentials.createInsecure());
    await until(() => entered);
    await server.shutdown();
    // The connection is cut (GOAWAY CANCEL): the client reports it UNAVAILABLE.
    expect((await inFlight).err?.code).toBe(status.UNAVAILABLE);
    expect(server.nativeCalls.served).toBe(onNative(1));
  });

  it("ends a paused getAllSessions UNAVAILABLE on shutdown", async () => {
    const backend = createMemorySwitch({ capacity: 100_000, traffic: false, tickIntervalMs: 0 });
    cleanups.push(() => backend.close());
    for (let n = 0; n < 100_000; n += 1) {
      backend.add({
        inLif: "a",
        outLif: "b",
        ipVersion: "ipv4",
        sourceIp: Uint8Array.of(10, (n >>> 16) & 255, (n >>> 8) & 255, n & 255),
        sourcePort: 1000,
        destinationIp: Uint8Array.of(10, 9, 9, 9),
        destinationPort: 80,
        protocol: "tcp",
        action: "forward",
        nextHop: "",
      });
    }
    const server = createStatsServer({ transport, backend, credentials: createInsecureCredentials() });
    const port = await listen(server);
    const client = new sessionsV1.SessionStatisticsTableClient(`127.0.0.1:${port}`, credentials.createInsecure());
    cleanups.push(() => client.close());
    const stream = client.getAllSessions({ pageSize: 0 });
    let received = 0;
    let stopping: Promise<void> | undefined;
    const ended = new Promise<number | undefined>((resolve) => {
      stream.on("data", () => {
        received += 1;
        if (received === 1) {
          stream.pause();
          stopping = server.shutdown();
          setTimeout(() => stream.resume(), 50);
        }
      });
      stream.on("error", (e: ServiceError) => resolve(e.code));
      stream.on("end", () => resolve(undefined));
    });
    expect(await ended).toBe(status.UNAVAILABLE);
    await stopping;
    expect(received).toBeLessThan(100_000);
    expect(server.nativeCalls.served).toBe(onNative(1));
  });
});
