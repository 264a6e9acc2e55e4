// Per-trigger backend-lifetime state (see trigger_cache.hpp).
#include "trigger_cache.hpp"

extern "C" {
#include "utils/memutils.h"
}

namespace saas {

void mark_trigger_cache_stale(InvalidatedCache *invalidation, Oid relid) {
    auto *cache = reinterpret_cast<TriggerCache *>(invalidation);
    if (cache->entries == nullptr) return;
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, cache->entries);
    TriggerCacheEntry *entry;
    while ((entry = static_cast<TriggerCacheEntry *>(hash_seq_search(&status))) != nullptr)
        if (relid == InvalidOid || entry->relation_oid == relid ||
            (entry->also_oid != InvalidOid && entry->also_oid == relid))
            entry->valid = false;
}

TriggerCacheEntry *trigger_cache_entry(TriggerCache *cache, Oid trigger_oid) {
    if (cache->entries == nullptr) {
        // Callbacks first: if registering fails, no entry can exist to go
        // stale unnoticed.
        watch_invalidation(&cache->invalidation);
        HASHCTL ctl;
        memset(&ctl, 0, sizeof ctl);
        ctl.keysize = sizeof(Oid);
        ctl.entrysize = cache->entry_size;
        ctl.hcxt = CacheMemoryContext;
        cache->entries = hash_create(cache->name, 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    bool found;
    auto *entry = static_cast<TriggerCacheEntry *>(
        hash_search(cache->entries, &trigger_oid, HASH_ENTER, &found));
    // Everything after the key starts zeroed: not valid.
    constexpr size_t kAfterKey = offsetof(TriggerCacheEntry, relation_oid);
    if (!found)
        memset(reinterpret_cast<char *>(entry) + kAfterKey, 0, cache->entry_size - kAfterKey);
    return entry;
}

} // namespace saas
