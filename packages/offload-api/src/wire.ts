/**
 * The generated sessions.v1 wire types and grpc-js service definitions.
 * This module is the only door to `generated/`: every other module speaks
 * the library's own types (see `types.ts`) and converts at the edge.
 */
export * as sessionsV1 from "../../../generated/sessions/v1/sessions";
export { Timestamp } from "../../../generated/google/protobuf/timestamp";
