// Invalidation callbacks for backend-lifetime caches (see invalidated_cache.hpp).
#include "invalidated_cache.hpp"

extern "C" {
#include "utils/inval.h"
}

namespace saas {
namespace {

void on_relcache_invalidation(Datum arg, Oid relid) {
    auto *cache = reinterpret_cast<InvalidatedCache *>(DatumGetPointer(arg));
    cache->mark_stale(cache, relid);
}

void on_syscache_invalidation(Datum arg, int, uint32) {
    auto *cache = reinterpret_cast<InvalidatedCache *>(DatumGetPointer(arg));
    cache->mark_stale(cache, InvalidOid);
}

} // namespace

void register_invalidation_callbacks(InvalidatedCache *cache) {
    if (cache->registered) return;
    CacheRegisterRelcacheCallback(on_relcache_invalidation, PointerGetDatum(cache));
    for (int i = 0; i < cache->nsyscaches; i++)
        CacheRegisterSyscacheCallback(cache->syscaches[i], on_syscache_invalidation,
                                      PointerGetDatum(cache));
    cache->registered = true;
}

} // namespace saas
