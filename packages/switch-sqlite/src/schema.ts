/** `PRAGMA application_id` of a switch database: "SOFF" in ASCII. */
export const APPLICATION_ID = 0x534f4646;

/** `PRAGMA user_version` of the schema this code writes and reads. */
export const SCHEMA_VERSION = 2;

/**
 * The schema, version 2. Ids are stored shifted by -2^63 (see id-codec.ts).
 * `live_key` holds the 7-tuple of a session that has not ended and NULL
 * afterwards, so its UNIQUE index is the duplicate check. The triggers keep
 * `switch_state.entries` equal to the row count, so that the capacity check
 * does not scan the table. `idle_timeout_ms` is a session's own idle timeout
 * (0: the protocol's default); each kind of expiry has its own partial index.
 */
const IDLE_INDEXES_SQL = `
CREATE INDEX sessions_idle ON sessions (protocol, last_seen) WHERE live_key IS NOT NULL AND idle_timeout_ms = 0;
CREATE INDEX sessions_own_idle ON sessions (last_seen + idle_timeout_ms * 1000000)
  WHERE live_key IS NOT NULL AND idle_timeout_ms > 0;
`;

/**
 * Moves a version 1 database to version 2 (per-session idle timeouts): a
 * column with default 0 (every existing session keeps its protocol's
 * default) and the two expiry indexes. Run inside a write transaction.
 */
export const MIGRATE_1_TO_2_SQL = `
ALTER TABLE sessions ADD COLUMN idle_timeout_ms INTEGER NOT NULL DEFAULT 0;
DROP INDEX sessions_idle;
${IDLE_INDEXES_SQL}`;

export const SCHEMA_SQL = `
CREATE TABLE switch_state (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  next_id INTEGER NOT NULL,
  entries INTEGER NOT NULL,
  leader TEXT,
  leader_expires INTEGER,
  traffic_cursor INTEGER
) STRICT;
CREATE TABLE owners (
  owner TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  in_lif TEXT NOT NULL,
  out_lif TEXT NOT NULL,
  ip_version TEXT NOT NULL CHECK (ip_version IN ('ipv4', 'ipv6')),
  source_ip BLOB NOT NULL,
  source_port INTEGER NOT NULL,
  destination_ip BLOB NOT NULL,
  destination_port INTEGER NOT NULL,
  protocol TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
  action TEXT NOT NULL,
  next_hop TEXT NOT NULL,
  live_key BLOB UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('established', 'closing1', 'closing2', 'closed')),
  close_code TEXT NOT NULL CHECK (close_code IN ('notClosed', 'finAck', 'rst', 'timeout')),
  in_packets INTEGER NOT NULL DEFAULT 0,
  out_packets INTEGER NOT NULL DEFAULT 0,
  in_bytes INTEGER NOT NULL DEFAULT 0,
  out_bytes INTEGER NOT NULL DEFAULT 0,
  start_time INTEGER NOT NULL,
  end_time INTEGER,
  last_seen INTEGER NOT NULL,
  lease_owner TEXT,
  lease_id INTEGER,
  idle_timeout_ms INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_closed ON sessions (end_time, id) WHERE state = 'closed';
CREATE INDEX sessions_closing ON sessions (id) WHERE state IN ('closing1', 'closing2') AND live_key IS NOT NULL;
CREATE INDEX sessions_lease ON sessions (lease_owner, lease_id) WHERE lease_owner IS NOT NULL;
${IDLE_INDEXES_SQL}CREATE TRIGGER sessions_count_insert AFTER INSERT ON sessions
  BEGIN UPDATE switch_state SET entries = entries + 1; END;
CREATE TRIGGER sessions_count_delete AFTER DELETE ON sessions
  BEGIN UPDATE switch_state SET entries = entries - 1; END;
`;
