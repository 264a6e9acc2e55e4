// RFC 9562 version 7 UUIDs: generator and timestamp helpers.
//
// Layout (big endian):  unix_ts_ms:48 | ver:4 (=7) | rand_a:12 | var:2 (=0b10) | rand_b:62
//
// Monotonicity uses RFC 9562 section 6.2, Method 3 ("Replace Leftmost Random
// Bits with Increased Clock Precision"): rand_a holds the sub-millisecond
// fraction in 1/4096 ms steps (~244 ns).  The 60-bit value (ms << 12 | fraction)
// is a backend-local "tick" that must strictly increase: when the clock has not
// advanced by a full step, or went backwards, we use previous tick + 1.  The
// embedded time may then run slightly ahead of the real clock until the clock
// catches up, which is the behaviour the RFC allows for monotonic generators.
// Because the tick occupies the 60 most significant non-fixed bits, values from
// one backend are strictly increasing whatever the random bits are.
#include "boundary.hpp"
#include "extension_gucs.hpp"

extern "C" {
#include <time.h>

#include "utils/uuid.h"
}

namespace {

constexpr int kSubmsBits = 12;
constexpr uint64 kSubmsSteps = UINT64_C(1) << kSubmsBits; // 4096 per ms
constexpr uint64 kMaxUnixMs = (UINT64_C(1) << 48) - 1;    // 48-bit field
constexpr uint64 kMaxTick = (kMaxUnixMs << kSubmsBits) | (kSubmsSteps - 1);

// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
constexpr int64 kUnixToPgEpochUsec = int64(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

// Last tick handed out by this backend (0 = none yet).
uint64 last_tick = 0;

// --- randomness source -------------------------------------------------------
// The only place random bits come from, so a deterministic test source can be
// swapped in later.  pg_strong_random is an OpenSSL call; buffering amortises
// it over 32 UUIDs.  The buffer is tied to the pid that filled it: a buffer
// inherited through fork() (e.g. filled in the postmaster) would hand two
// backends the same bytes.
constexpr size_t kRandomBufferSize = 256;
uint8 random_buffer[kRandomBufferSize];
size_t random_used = kRandomBufferSize;
int random_owner_pid = 0;

void random_bytes(uint8 *dst, size_t len) {
    if (random_owner_pid != MyProcPid) {
        random_used = kRandomBufferSize;
        random_owner_pid = MyProcPid;
    }
    if (kRandomBufferSize - random_used < len) {
        if (!pg_strong_random(random_buffer, kRandomBufferSize))
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                            errmsg("could not generate random values for a UUID")));
        random_used = 0;
    }
    memcpy(dst, random_buffer + random_used, len);
    // Never hand out the same bytes twice.
    memset(random_buffer + random_used, 0, len);
    random_used += len;
}

// Current time as a tick: Unix ms << 12 | sub-ms fraction in 1/4096 ms.
uint64 clock_tick() {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        ereport(ERROR,
                (errcode(ERRCODE_SYSTEM_ERROR), errmsg("could not read the system clock: %m")));
    if (ts.tv_sec < 0) return 0; // clock before 1970: treated as "went backwards"
    uint64 ms = uint64(ts.tv_sec) * 1000 + uint64(ts.tv_nsec) / 1000000;
    uint64 frac = (uint64(ts.tv_nsec) % 1000000) * kSubmsSteps / 1000000;
    return (ms << kSubmsBits) | frac;
}

// Unix ms of a v7 UUID, after checking version and variant.
uint64 v7_unix_ms(const pg_uuid_t *u) {
    int version = u->data[6] >> 4;
    if (version != 7) {
        char *text = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(u)));
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("UUID is not version 7"),
                        errdetail("UUID %s has version %d.", text, version),
                        errhint("Only UUIDs made by saas.uuid_generate_v7() or another RFC 9562 "
                                "version 7 generator carry a timestamp.")));
    }
    if ((u->data[8] & 0xC0) != 0x80) {
        char *text = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(u)));
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("UUID is not an RFC 9562 UUID"),
                 errdetail("UUID %s has variant bits %d%d, expected 10.", text,
                           (u->data[8] >> 7) & 1, (u->data[8] >> 6) & 1)));
    }
    uint64 ms = 0;
    for (int i = 0; i < 6; i++)
        ms = (ms << 8) | u->data[i];
    return ms;
}

} // namespace

namespace {

// --- test mode (saas.test_seed) ----------------------------------------------
// A reproducible sequence per seed: the clock is a counter starting at
// 2020-01-01 00:00:00 UTC that advances one tick (1/4096 ms) per UUID, and the
// random bits come from splitmix64 seeded with the seed.  The sequence starts
// over when a different non-zero seed is set; switching test mode off and back
// on with the same seed continues it (no id is handed out twice).
constexpr uint64 kTestEpochMs = UINT64_C(1577836800000); // 2020-01-01T00:00:00Z
int active_test_seed = 0;
uint64 test_tick = 0;
uint64 test_rng_state = 0;

uint64 splitmix64(uint64 *state) {
    uint64 z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void test_mode_next(uint64 *tick, uint8 random8[8]) {
    if (active_test_seed != saas::test_seed) {
        active_test_seed = saas::test_seed;
        test_tick = kTestEpochMs << kSubmsBits;
        test_rng_state = uint64(saas::test_seed);
    }
    *tick = test_tick++;
    uint64 r = splitmix64(&test_rng_state);
    for (int i = 0; i < 8; i++)
        random8[i] = uint8(r >> (8 * i));
}

void encode_v7(pg_uuid_t *u, uint64 tick) {
    uint64 ms = tick >> kSubmsBits;
    uint32 frac = uint32(tick & (kSubmsSteps - 1));
    for (int i = 0; i < 6; i++)
        u->data[i] = uint8(ms >> (8 * (5 - i)));
    u->data[6] = uint8(0x70 | (frac >> 8)); // version 7 + high 4 bits of fraction
    u->data[7] = uint8(frac & 0xFF);
    u->data[8] = uint8((u->data[8] & 0x3F) | 0x80); // variant 0b10
}

} // namespace

SAAS_FUNCTION(saas_uuid_generate_v7) {
    if (unlikely(saas::test_seed != 0)) {
        pg_uuid_t *u = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
        uint64 tick;
        test_mode_next(&tick, u->data + 8);
        encode_v7(u, tick);
        PG_RETURN_UUID_P(u);
    }
    uint64 tick = clock_tick();
    if (tick <= last_tick) tick = last_tick + 1; // same step, or clock went backwards
    if (tick > kMaxTick)
        ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
                        errmsg("current time is beyond the range of UUID version 7")));
    last_tick = tick;

    pg_uuid_t *u = static_cast<pg_uuid_t *>(palloc(sizeof(pg_uuid_t)));
    random_bytes(u->data + 8, 8);
    encode_v7(u, tick);
    PG_RETURN_UUID_P(u);
}

// The millisecond timestamp of a v7 UUID (the sub-ms bits are not
// interpreted: other v7 generators put random bits there).
SAAS_FUNCTION(saas_uuid_v7_to_timestamptz) {
    uint64 ms = v7_unix_ms(PG_GETARG_UUID_P(0));
    // 2^48 ms (year 10889) is far inside timestamptz's range: no overflow.
    PG_RETURN_TIMESTAMPTZ(TimestampTz(int64(ms) * 1000 - kUnixToPgEpochUsec));
}

// Smallest v7 UUID of the millisecond containing ts: every bit after the
// 48-bit timestamp is zero except version and variant.  Sub-ms precision is
// truncated (floor), so "id >= lower_bound(t)" never misses rows of t's ms.
SAAS_FUNCTION(saas_uuid_v7_lower_bound) {
    TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
    if (TIMESTAMP_NOT_FINITE(ts))
        ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
                        errmsg("timestamp out of range for UUID version 7"),
                        errdetail("Infinite timestamps have no UUID version 7 value.")));
    // ts + epoch shift cannot overflow: finite timestamptz ends at year 294276.
    int64 unix_us = int64(ts) + kUnixToPgEpochUsec;
    if (unix_us < 0 || uint64(unix_us / 1000) > kMaxUnixMs)
        ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
                        errmsg("timestamp out of range for UUID version 7"),
                        errdetail("UUID version 7 holds Unix milliseconds from 1970-01-01 00:00:00 "
                                  "UTC to 10889-08-02 05:31:50.655 UTC.")));
    uint64 ms = uint64(unix_us / 1000);
    pg_uuid_t *u = static_cast<pg_uuid_t *>(palloc0(sizeof(pg_uuid_t)));
    for (int i = 0; i < 6; i++)
        u->data[i] = uint8(ms >> (8 * (5 - i)));
    u->data[6] = 0x70;
    u->data[8] = 0x80;
    PG_RETURN_UUID_P(u);
}
