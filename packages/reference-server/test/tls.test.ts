import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { X509Certificate } from "node:crypto";
import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { sessionsV1 } from "@sessionoffload/offload-api";
import type { OffloadServer } from "@sessionoffload/server-transport";
import { createSessionServer } from "@sessionoffload/session-server";
import { createMemorySwitch, type MemorySwitch } from "@sessionoffload/switch-backend";
import {
  buildServerCredentials,
  DevTlsError,
  ensureDevTls,
  TlsFileError,
  type DevTlsFiles,
  type TlsConfig,
} from "../src";
import { createCertificateAuthority, issueCertificate } from "../src/certificates";
import { HostNameError, namesForHost } from "../src/host-names";

let dir: string;
let dev: DevTlsFiles;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "offload-tls-"));
  dev = ensureDevTls({ dir: join(dir, "dev") });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("ensureDevTls", () => {
  it("makes a CA and a server certificate for localhost, 127.0.0.1 and ::1, keys mode 0600", () => {
    expect(dev.created).toBe("ca");
    expect(statSync(dev.caKeyPath).mode & 0o777).toBe(0o600);
    expect(statSync(dev.keyPath).mode & 0o777).toBe(0o600);
    expect(statSync(dev.dir).mode & 0o077).toBe(0);
    const ca = new X509Certificate(readFileSync(dev.caCertPath));
    const server = new X509Certificate(readFileSync(dev.certPath));
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkHost("localhost")).toBe("localhost");
    expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(server.checkIP("::1")).toBeDefined();
    expect(server.checkHost("example.com")).toBeUndefined();
  });

  it("reuses the files on a later start", () => {
    const before = readFileSync(dev.certPath, "utf8");
    const again = ensureDevTls({ dir: dev.dir });
    expect(again.created).toBe("none");
    expect(readFileSync(again.certPath, "utf8")).toBe(before);
  });

  it("renews an expiring server certificate with the same CA", () => {
    const copy = join(dir, "renew");
    ensureDevTls({ dir: copy });
    const ca = readFileSync(join(copy, "ca.crt"), "utf8");
    const later = ensureDevTls({ dir: copy, now: () => new Date(Date.now() + 830 * 86_400_000) });
    expect(later.created).toBe("server");
    expect(readFileSync(later.caCertPath, "utf8")).toBe(ca);
  });

  it("covers the names asked for (--host): issues the server certificate again, keeping the CA and the old names", () => {
    const folder = join(dir, "hosts");
    const first = ensureDevTls({ dir: folder });
    const ca = readFileSync(first.caCertPath, "utf8");
    const wider = ensureDevTls({ dir: folder, names: { dnsNames: ["switch.test"], ipAddresses: ["127.0.0.2"] } });
    expect(wider.created).toBe("server");
    expect(readFileSync(wider.caCertPath, "utf8")).toBe(ca);
    const cert = new X509Certificate(readFileSync(wider.certPath));
    expect(cert.checkIP("127.0.0.2")).toBe("127.0.0.2");
    expect(cert.checkHost("switch.test")).toBe("switch.test");
    expect(cert.checkHost("localhost")).toBe("localhost");
    expect(cert.checkIP("::1")).toBeDefined();
    expect(cert.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(ensureDevTls({ dir: folder, names: { dnsNames: [], ipAddresses: ["127.0.0.2"] } }).created).toBe("none");
    // Another server's --host: both are covered, so that the two do not take turns replacing it.
    const both = ensureDevTls({ dir: folder, names: { dnsNames: [], ipAddresses: ["127.0.0.3"] } });
    expect(both.created).toBe("server");
    expect(both.names.ipAddresses).toEqual(expect.arrayContaining(["127.0.0.3", "127.0.0.2", "127.0.0.1"]));
    expect(both.names.dnsNames).toEqual(expect.arrayContaining(["localhost", "switch.test"]));
    expect(ensureDevTls({ dir: folder, names: { dnsNames: [], ipAddresses: ["127.0.0.2"] } }).created).toBe("none");
  });

  it("says in one line when the folder cannot be made", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    expect(() => ensureDevTls({ dir: join(file, "tls") })).toThrow(DevTlsError);
    expect(() => ensureDevTls({ dir: join(file, "tls") })).toThrow(
      new RegExp(`^cannot write the development TLS folder ${file}/tls: ENOTDIR$`),
    );
  });

  it("takes the folder from OFFLOAD_TLS_DIR, relative to cwd", () => {
    const made = ensureDevTls({ cwd: dir, env: { OFFLOAD_TLS_DIR: "from-env" } });
    expect(made.dir).toBe(join(dir, "from-env"));
  });
});

describe("a real TLS client", () => {
  let backend: MemorySwitch;
  let server: OffloadServer | undefined;
  afterEach(async () => {
    await server?.shutdown();
    server = undefined;
    backend.close();
  });

  async function serve(config: TlsConfig): Promise<number> {
    backend = createMemorySwitch({ capacity: 10, traffic: false, tickIntervalMs: 0 });
    server = createSessionServer({ backend, credentials: buildServerCredentials(config).credentials });
    return server.listen("127.0.0.1:0");
  }

  // By name: grpc-js sends an IP target as the TLS server name (SNI), which RFC 6066 forbids and Node
  // deprecates (DEP0123); the certificates' addresses are checked with node:tls above.
  function add(port: number, creds: ChannelCredentials, host = "localhost"): Promise<sessionsV1.sessionResponse> {
    const client = new sessionsV1.SessionTableClient(`${host}:${port}`, creds);
    const request = sessionsV1.sessionRequest.fromPartial({
      ipVersion: sessionsV1.IP_VERSION._IPV4,
      sourceIp: Buffer.from([10, 0, 0, 1]),
      sourcePort: 1000,
      destinationIp: Buffer.from([10, 0, 0, 2]),
      destinationPort: 2000,
      protocolId: sessionsV1.PROTOCOL_ID._TCP,
    });
    const deadline = new Date(Date.now() + 5000);
    return new Promise<sessionsV1.sessionResponse>((resolve, reject) =>
      client.addSession(
        request,
        new Metadata(),
        { deadline },
        (err: ServiceError | null, res?: sessionsV1.sessionResponse) =>
          err ? reject(err) : resolve(res as sessionsV1.sessionResponse),
      ),
    ).finally(() => client.close());
  }

  const caOf = (files: DevTlsFiles) => readFileSync(files.caCertPath);

  it("node:tls verifies the development certificate against the CA, by name and by address", async () => {
    const port = await serve({ mode: "dev", dev: { dir: dev.dir } });
    for (const host of ["localhost", "127.0.0.1"]) {
      const authorized = await new Promise<boolean>((resolve, reject) => {
        const socket = connect({
          host,
          port,
          ca: caOf(dev),
          servername: host === "localhost" ? host : "",
          ALPNProtocols: ["h2"],
        });
        socket.on("secureConnect", () => {
          resolve(socket.authorized);
          socket.destroy();
        });
        socket.on("error", reject);
      });
      expect(authorized).toBe(true);
    }
  });

  it("a gRPC client that trusts the CA is served; one that does not is refused", async () => {
    const port = await serve({ mode: "dev", dev: { dir: dev.dir } });
    expect((await add(port, credentials.createSsl(caOf(dev)))).requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
    expect((await add(port, credentials.createSsl(caOf(dev)))).requestStatus).toBe(
      sessionsV1.REQUEST_STATUS._REJECTED_SESSION_ALREADY_EXISTS,
    );
    await expect(add(port, credentials.createSsl())).rejects.toMatchObject({ code: status.UNAVAILABLE });
    await expect(add(port, credentials.createInsecure())).rejects.toMatchObject({ code: status.UNAVAILABLE });
    expect(backend.size()).toBe(1);
  });

  it("serves a given certificate and key", async () => {
    const ca = createCertificateAuthority({ commonName: "ops CA" });
    const leaf = issueCertificate(ca, {
      commonName: "switch",
      usage: "server",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    writeFileSync(join(dir, "given.crt"), leaf.certPem);
    writeFileSync(join(dir, "given.key"), leaf.keyPem, { mode: 0o600 });
    const port = await serve({ mode: "files", certPath: join(dir, "given.crt"), keyPath: join(dir, "given.key") });
    const res = await add(port, credentials.createSsl(Buffer.from(ca.certPem)));
    expect(res.requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
    await expect(add(port, credentials.createSsl(caOf(dev)))).rejects.toMatchObject({ code: status.UNAVAILABLE });
  });

  describe("mutual TLS", () => {
    const clientCa = createCertificateAuthority({ commonName: "applications CA" });
    const good = issueCertificate(clientCa, { commonName: "firewall-1", usage: "client" });
    const rogueCa = createCertificateAuthority({ commonName: "rogue CA" });
    const rogue = issueCertificate(rogueCa, { commonName: "intruder", usage: "client" });

    async function serveMutual(): Promise<number> {
      const clientCaPath = join(dir, "client-ca.crt");
      writeFileSync(clientCaPath, clientCa.certPem);
      return serve({ mode: "dev", dev: { dir: dev.dir }, clientCaPath });
    }

    it("serves a client with a certificate signed by the client CA", async () => {
      const port = await serveMutual();
      const creds = credentials.createSsl(caOf(dev), Buffer.from(good.keyPem), Buffer.from(good.certPem));
      expect((await add(port, creds)).requestStatus).toBe(sessionsV1.REQUEST_STATUS._ACCEPTED);
    });

    it("refuses a client without a certificate, and one signed by another CA", async () => {
      const port = await serveMutual();
      await expect(add(port, credentials.createSsl(caOf(dev)))).rejects.toMatchObject({ code: status.UNAVAILABLE });
      const rogueCreds = credentials.createSsl(caOf(dev), Buffer.from(rogue.keyPem), Buffer.from(rogue.certPem));
      await expect(add(port, rogueCreds)).rejects.toMatchObject({ code: status.UNAVAILABLE });
      expect(backend.size()).toBe(0);
    });
  });
});

describe("namesForHost", () => {
  const env = {
    hostname: "switch-7",
    addresses: ["127.0.0.1", "::1", "192.0.2.10", "fe80::1%eth0"],
    resolve: async (name: string) => {
      if (name === "switch-7.lab") return ["192.0.2.10", "2001:db8::10"];
      throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    },
  };

  it.each([
    ["127.0.0.2", { dnsNames: ["switch-7"], ipAddresses: ["127.0.0.2"] }],
    ["::1", { dnsNames: ["switch-7"], ipAddresses: ["::1"] }],
    ["[::1]", { dnsNames: ["switch-7"], ipAddresses: ["::1"] }],
    ["0.0.0.0", { dnsNames: ["switch-7"], ipAddresses: ["127.0.0.1", "::1", "192.0.2.10"] }],
    ["switch-7.lab", { dnsNames: ["switch-7.lab", "switch-7"], ipAddresses: ["192.0.2.10", "2001:db8::10"] }],
  ])("--host %s needs %j", async (host, names) => {
    expect(await namesForHost(host, env)).toEqual(names);
  });

  it("refuses a host name that does not resolve, in one line", async () => {
    await expect(namesForHost("nowhere.invalid", env)).rejects.toThrow(
      new HostNameError("--host: cannot resolve nowhere.invalid: ENOTFOUND"),
    );
  });
});

describe("buildServerCredentials", () => {
  it.each([
    [{ mode: "files", certPath: "/nonexistent/a.crt", keyPath: "/nonexistent/a.key" }, "--tls-cert"],
    [{ mode: "dev", clientCaPath: "/nonexistent/ca.crt" }, "--tls-client-ca"],
  ] as Array<[TlsConfig, string]>)("names the flag of a file it cannot read", (config, flag) => {
    expect(() => buildServerCredentials(config)).toThrow(TlsFileError);
    expect(() => buildServerCredentials(config)).toThrow(new RegExp(`^${flag}: cannot read /nonexistent/.*: ENOENT$`));
  });

  it("refuses a file that is not PEM", () => {
    const notPem = join(dir, "not.pem");
    writeFileSync(notPem, "hello");
    expect(() => buildServerCredentials({ mode: "files", certPath: notPem, keyPath: notPem })).toThrow(
      "--tls-cert: cannot read",
    );
  });
});
