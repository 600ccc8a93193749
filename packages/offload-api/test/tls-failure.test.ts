import { describe, expect, it } from "@jest/globals";
import { tlsFailureOf } from "../src/client/tls-failure";

const failed = (error: string) => `No connection established. Last error: ${error}. Resolution note: `;

describe("tlsFailureOf", () => {
  it.each([
    [
      failed(
        "Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list: 127.0.0.1, ::1",
      ),
      "the server's certificate does not name the target",
    ],
    [failed("Error: unable to verify the first certificate"), "not signed by a CA the client trusts"],
    [failed("Error: self-signed certificate in certificate chain"), "not signed by a CA the client trusts"],
    [failed("Error: unable to get local issuer certificate"), "not signed by a CA the client trusts"],
    [failed("Error: certificate has expired"), "outside its validity period"],
    [
      failed(
        "Error: 80CC2277757F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/x.c:350:\n",
      ),
      "does not speak TLS",
    ],
    [
      failed("Error: 40:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:x.c:1:"),
      "refused the client's certificate",
    ],
  ])("%s -> %s", (details, reason) => {
    expect(tlsFailureOf(details)?.reason).toContain(reason);
  });

  it("gives the socket error in one short line", () => {
    expect(
      tlsFailureOf(
        failed("Error: 80CC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/x.c:350:\n"),
      ),
    ).toEqual({
      reason: "the server does not speak TLS (a plaintext server?)",
      error: "Error: SSL: wrong version number",
    });
  });

  it.each([
    failed("Error: connect ECONNREFUSED 127.0.0.1:3443"),
    failed("Failed to connect (2026-12-02T06:57:10.664Z)"),
    "Connection dropped",
    "certificate has expired", // a server's own status text, not a failed connection
    "",
  ])("leaves %j to the retry policy", (details) => {
    expect(tlsFailureOf(details)).toBeUndefined();
  });
});
