// Traffic for the nftables tests, run inside a namespace with `ip netns exec NS node traffic.cjs MODE ...`.
// Prints one JSON line with what it saw, then exits. Every mode stops by itself (udp-recv once told, or after a minute).
"use strict";
const dgram = require("node:dgram");
const net = require("node:net");

const [mode, ...args] = process.argv.slice(2);
const family = (host) => (host.includes(":") ? "udp6" : "udp4");
const done = (result) => {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
};

if (mode === "udp-recv") {
  // udp-recv HOST PORT MS: counts datagrams until "go" arrives on stdin (the sender is done), then MS milliseconds
  // more (datagrams still queued), and prints the counts. No window against the sender's start-up: the test says
  // when. Without a "go" it stops after a minute (a test that failed before telling it).
  const [host, port, ms] = args;
  const sock = dgram.createSocket(family(host));
  const seen = { packets: 0, bytes: 0 };
  sock.on("message", (msg) => {
    seen.packets += 1;
    seen.bytes += msg.length;
  });
  sock.bind(Number(port), host, () => {
    process.stdout.write("ready\n");
    setTimeout(() => done(seen), 60_000).unref();
    process.stdin.on("data", (chunk) => {
      if (chunk.toString().includes("go")) setTimeout(() => done(seen), Number(ms));
    });
  });
} else if (mode === "udp-send") {
  // udp-send SRC SPORT DST DPORT COUNT SIZE: sends COUNT datagrams of SIZE bytes, one after another.
  const [src, sport, dst, dport, count, size] = args;
  const sock = dgram.createSocket(family(src));
  sock.bind(Number(sport), src, () => {
    let sent = 0;
    const next = () => {
      if (sent === Number(count)) return done({ sent });
      sent += 1;
      sock.send(Buffer.alloc(Number(size), 0x61), Number(dport), dst, next);
    };
    next();
  });
} else if (mode === "udp-send-on-go") {
  // udp-send-on-go SRC SPORT DST DPORT COUNT SIZE: binds, prints ready, and sends once "go" arrives on stdin.
  const [src, sport, dst, dport, count, size] = args;
  const sock = dgram.createSocket(family(src));
  sock.bind(Number(sport), src, () => {
    process.stdout.write("ready\n");
    process.stdin.once("data", () => {
      let sent = 0;
      const next = () => {
        if (sent === Number(count)) return done({ sent, at: Date.now() });
        sent += 1;
        sock.send(Buffer.alloc(Number(size), 0x61), Number(dport), dst, next);
      };
      next();
    });
  });
  setTimeout(() => done({ error: "no go" }), 30_000);
} else if (mode === "tcp-server") {
  // tcp-server HOST PORT MS: accepts one connection, reads it, answers the client's FIN with its own.
  const [host, port, ms] = args;
  const seen = { bytes: 0, ended: false, reset: false };
  const server = net.createServer((sock) => {
    sock.on("data", (d) => (seen.bytes += d.length));
    sock.on("end", () => {
      seen.ended = true;
      sock.end();
    });
    sock.on("error", (err) => (seen.reset = err.code === "ECONNRESET"));
    sock.on("close", () => setTimeout(() => done(seen), 200));
  });
  server.listen(Number(port), host, () => process.stdout.write("ready\n"));
  setTimeout(() => done(seen), Number(ms));
} else if (mode === "tcp-client") {
  // tcp-client SRC SPORT DST DPORT BYTES fin|rst [timed]: sends BYTES, then closes with FIN or RST;
  // with "timed" the result also says when (Date.now()) the FIN or RST was sent.
  const [src, sport, dst, dport, bytes, how, timed] = args;
  let finAt;
  const result = () => (timed === "timed" ? { closed: how, finAt } : { closed: how });
  const sock = net.connect({ host: dst, port: Number(dport), localAddress: src, localPort: Number(sport) }, () => {
    sock.write(Buffer.alloc(Number(bytes), 0x62), () => {
      if (how === "rst") {
        setTimeout(() => {
          finAt = Date.now();
          sock.resetAndDestroy();
          setTimeout(() => done(result()), 200);
        }, 100);
      } else {
        finAt = Date.now();
        sock.end();
      }
    });
  });
  sock.on("close", () => setTimeout(() => done(result()), 200));
  sock.on("error", (err) => done({ error: err.code }));
  setTimeout(() => done({ error: "timeout" }), 10_000);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
