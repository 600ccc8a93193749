import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

/** A PEM certificate and its PEM private key. */
export interface CertificateAndKey {
  /** The certificate, PEM. */
  readonly certPem: string;
  /** Its private key (PKCS#8), PEM. */
  readonly keyPem: string;
}

/** Options of `createCertificateAuthority`. */
export interface AuthorityOptions {
  /** Subject common name; default "sessionoffload development CA". */
  readonly commonName?: string;
  /** Start of validity; default now. */
  readonly notBefore?: Date;
  /** Validity in days; default 3650. */
  readonly days?: number;
}

/** Options of `issueCertificate`. */
export interface IssueOptions {
  /** Subject common name. */
  readonly commonName: string;
  /** "server" (serverAuth) or "client" (clientAuth). */
  readonly usage: "server" | "client";
  /** DNS subject alternative names. */
  readonly dnsNames?: readonly string[];
  /** IP subject alternative names (IPv4 or IPv6 text). */
  readonly ipAddresses?: readonly string[];
  /** Start of validity; default now. */
  readonly notBefore?: Date;
  /** Validity in days; default 825 (the longest browsers accept). */
  readonly days?: number;
}

const DAY_MS = 86_400_000;

// RSA 2048 keys made by Node's native crypto (milliseconds, where node-forge's
// pure-JS generation takes seconds); node-forge signs and encodes the
// certificates, which it can only do with RSA keys.
function newKeyPair(): { publicKey: forge.pki.rsa.PublicKey; privateKey: forge.pki.rsa.PrivateKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), privateKey: forgeKey, keyPem };
}

function newCertificate(
  publicKey: forge.pki.rsa.PublicKey,
  commonName: string,
  notBefore: Date,
  days: number,
): forge.pki.Certificate {
  if (!Number.isFinite(days) || days <= 0) throw new RangeError(`days: must be > 0, got ${days}`);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive 16-byte serial: high bit cleared so DER does not read it as negative.
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  cert.serialNumber = serial.toString("hex");
  cert.validity.notBefore = new Date(notBefore.getTime() - 60_000);
  cert.validity.notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  return cert;
}

/** Makes a self-signed certificate authority (CA:true, keyCertSign) with a new RSA 2048 key. */
export function createCertificateAuthority(options: AuthorityOptions = {}): CertificateAndKey {
  const { publicKey, privateKey, keyPem } = newKeyPair();
  const commonName = options.commonName ?? "sessionoffload development CA";
  const cert = newCertificate(publicKey, commonName, options.notBefore ?? new Date(), options.days ?? 3650);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/**
 * Issues a leaf certificate signed by `ca`, with a new RSA 2048 key: for a
 * server (serverAuth, with its DNS and IP subject alternative names) or a
 * client (clientAuth).
 */
export function issueCertificate(ca: CertificateAndKey, options: IssueOptions): CertificateAndKey {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const { publicKey, keyPem } = newKeyPair();
  const cert = newCertificate(publicKey, options.commonName, options.notBefore ?? new Date(), options.days ?? 825);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: options.usage === "server", clientAuth: options.usage === "client" },
    ...(altNames.length > 0 ? [{ name: "subjectAltName", altNames }] : []),
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}
