/**
 * The generated wire types and grpc-js service definitions of both
 * generations (sessions.v1, 2020; openoffload.v1, the later OpenOffload).
 * This module is the only door to `generated/`: every other module speaks
 * the library's own types (see `types.ts`) and converts at the edge.
 */
export * as sessionsV1 from "../../../generated/sessions/v1/sessions";
export * as openoffloadV1 from "../../../generated/openoffload/v1/openoffload";
export { Timestamp } from "../../../generated/google/protobuf/timestamp";
