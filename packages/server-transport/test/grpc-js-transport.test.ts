/**
 * The fast-path suites again, on the grpc-js transport (grpc-js listens, the
 * fast path hooked in front of its HTTP/2 sessions), so that both transports
 * stay covered: the suites read OFFLOAD_TEST_TRANSPORT through testTransport().
 */
process.env.OFFLOAD_TEST_TRANSPORT = "grpc-js";
/* eslint-disable @typescript-eslint/no-require-imports */
require("./fast-path-unary.test");
require("./fast-path-stream.test");
require("./fast-path-transport.test");
