// Per-trigger state kept for the life of the backend, keyed by trigger OID.
//
// State is per trigger, not per table: two triggers on one table may have
// different arguments, and a trigger on a partitioned table is cloned onto
// each partition with its own OID and the partition's own column layout.
// An entry is marked stale when the relation it describes is invalidated
// (ALTER TABLE, CREATE/DROP TRIGGER, ...); its owner rebuilds it at the
// trigger's next call.
#pragma once

#include "invalidated_cache.hpp"

extern "C" {
#include "utils/hsearch.h"
}

namespace saas {

// The first member of every entry.
struct TriggerCacheEntry {
    Oid trigger_oid;  // hash key
    Oid relation_oid; // the relation the entry describes
    Oid also_oid;     // another relation it depends on (e.g. the partitioned
                      // parent whose name it records), or InvalidOid
    bool valid;       // cleared when either relation is invalidated
};

struct TriggerCache {
    InvalidatedCache invalidation; // first member: its callbacks find the cache
    const char *name;              // of the hash table
    Size entry_size;               // of the owner's entry struct
    HTAB *entries;                 // created at first use
};

void mark_trigger_cache_stale(InvalidatedCache *cache, Oid relid);

// A cache whose entries are entry_size bytes, each starting with a
// TriggerCacheEntry.
constexpr TriggerCache make_trigger_cache(const char *name, Size entry_size) {
    return TriggerCache{{mark_trigger_cache_stale, nullptr, 0, false}, name, entry_size, nullptr};
}

// The entry for the trigger; a new one is zeroed (not valid).
TriggerCacheEntry *trigger_cache_entry(TriggerCache *cache, Oid trigger_oid);

// A cache whose entries also go stale on any change in the given syscaches.
constexpr TriggerCache make_trigger_cache(const char *name, Size entry_size, const int *syscaches,
                                          int nsyscaches) {
    return TriggerCache{
        {mark_trigger_cache_stale, syscaches, nsyscaches, false}, name, entry_size, nullptr};
}

// Whether the entry describes rel and nothing invalidated it since.
inline bool trigger_cache_entry_current(const TriggerCacheEntry *entry, Relation rel) {
    return entry->valid && entry->relation_oid == RelationGetRelid(rel);
}

} // namespace saas
