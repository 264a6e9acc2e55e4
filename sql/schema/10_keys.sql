-- Keys.  Every id defaults to saas.uuid_generate_v7(): RFC 9562 version 7
-- UUIDs (src/uuidv7.cpp), time-ordered, so B-tree inserts append at the
-- right edge.  Strictly increasing within a backend.
CREATE FUNCTION saas.uuid_generate_v7() RETURNS uuid
    LANGUAGE c VOLATILE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_uuid_generate_v7';
COMMENT ON FUNCTION saas.uuid_generate_v7() IS
    'RFC 9562 UUID version 7 (Unix ms + 12-bit sub-ms clock fraction + 62 random bits), monotonic per backend';

CREATE FUNCTION saas.uuid_v7_to_timestamptz(uuid) RETURNS timestamptz
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_uuid_v7_to_timestamptz';
COMMENT ON FUNCTION saas.uuid_v7_to_timestamptz(uuid) IS
    'Millisecond timestamp embedded in a version 7 UUID; error for other versions';

CREATE FUNCTION saas.uuid_v7_lower_bound(timestamptz) RETURNS uuid
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_uuid_v7_lower_bound';
COMMENT ON FUNCTION saas.uuid_v7_lower_bound(timestamptz) IS
    'Smallest version 7 UUID of the millisecond containing the timestamp, for range scans: id >= saas.uuid_v7_lower_bound(t)';
