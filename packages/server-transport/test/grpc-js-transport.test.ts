/**
 * The call suites again, on the grpc-js transport (grpc-js alone listens and
 * serves every call), so that both transports stay covered: the suites read
 * OFFLOAD_TEST_TRANSPORT through testTransport().
 */
process.env.OFFLOAD_TEST_TRANSPORT = "grpc-js";
/* eslint-disable @typescript-eslint/no-require-imports */
require("./unary-calls.test");
require("./server-streams.test");
require("./tls-and-shutdown.test");
