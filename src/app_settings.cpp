// The application's transaction-local settings (see app_settings.hpp).
#include "app_settings.hpp"

extern "C" {
#include "utils/guc.h"
#include "utils/memutils.h"
}

namespace saas {

namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool read_uuid_setting(const char *setting_name, pg_uuid_t *out) {
    // The last text seen per setting and its parse: policies call this once
    // per row on sequential scans and the audit trigger once per audited row,
    // often alternating between the tenant and the actor setting in one
    // statement, so each setting keeps its own slot.
    struct Slot {
        char name[64];
        char text[64];
        pg_uuid_t value;
    };
    static Slot slots[4];

    const char *value = GetConfigOption(setting_name, true, false);
    if (value == nullptr || value[0] == '\0') return false;

    Slot *slot = nullptr;
    for (Slot &candidate : slots) {
        if (strcmp(candidate.name, setting_name) == 0 || candidate.name[0] == '\0') {
            slot = &candidate;
            break;
        }
    }
    size_t len = strlen(value);
    if (slot != nullptr && slot->name[0] != '\0' && strcmp(slot->text, value) == 0) {
        *out = slot->value;
        return true;
    }
    if (!parse_uuid_text(value, out))
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("setting \"%s\" is not a valid uuid: \"%s\"", setting_name, value),
                        errhint("Set it with SET LOCAL %s = '<uuid>' inside a transaction, or "
                                "leave it unset.",
                                setting_name)));
    if (slot != nullptr && len < sizeof slot->text && strlen(setting_name) < sizeof slot->name) {
        memcpy(slot->text, value, len + 1);
        strcpy(slot->name, setting_name);
        slot->value = *out;
    }
    return true;
}

Jsonb *parse_metadata(const char *setting) {
    MemoryContext caller = CurrentMemoryContext;
    Jsonb *volatile parsed = nullptr;
    PG_TRY();
    { parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(setting))); }
    PG_CATCH();
    {
        // jsonb_in has no side effects, so its error can be replaced by one
        // that names the setting.
        MemoryContextSwitchTo(caller);
        ErrorData *edata = CopyErrorData();
        FlushErrorState();
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("setting \"%s\" is not valid JSON", kRequestMetadataSetting),
                        errdetail("%s", edata->message),
                        errhint("Set %s to a JSON object, e.g. '{\"request_id\": \"...\"}'.",
                                kRequestMetadataSetting)));
    }
    PG_END_TRY();
    if (!JB_ROOT_IS_OBJECT(parsed) || JB_ROOT_IS_SCALAR(parsed))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("setting \"%s\" must be a JSON object", kRequestMetadataSetting),
                        errdetail("The setting is: %s", setting)));
    return parsed;
}

// The last parsed metadata setting, so a session that keeps the same value
// pays one strcmp per trigger call.  Stored in TopMemoryContext.
char *cached_metadata_setting = nullptr;
Jsonb *cached_metadata = nullptr;

} // namespace

bool parse_uuid_text(const char *text, pg_uuid_t *out) noexcept {
    const char *p = text;
    bool braces = (*p == '{');
    if (braces) p++;
    for (int i = 0; i < UUID_LEN; i++) {
        int hi = hex_value(p[0]);
        int lo = hi < 0 ? -1 : hex_value(p[1]);
        if (hi < 0 || lo < 0) return false;
        out->data[i] = static_cast<unsigned char>(hi << 4 | lo);
        p += 2;
        // Like uuid_in: a hyphen may follow any group of four hex digits.
        if (*p == '-' && i % 2 == 1 && i != UUID_LEN - 1) p++;
    }
    if (braces) {
        if (*p != '}') return false;
        p++;
    }
    return *p == '\0';
}

bool read_tenant_id(pg_uuid_t *out) {
    return read_uuid_setting(kTenantSetting, out);
}

bool read_actor_id(pg_uuid_t *out) {
    return read_uuid_setting(kActorSetting, out);
}

Jsonb *empty_request_metadata() {
    static Jsonb *empty = nullptr;
    if (empty == nullptr) {
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        empty = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
        MemoryContextSwitchTo(old);
    }
    return empty;
}

Jsonb *read_request_metadata() {
    const char *metadata = GetConfigOption(kRequestMetadataSetting, true, false);
    if (metadata == nullptr || metadata[0] == '\0') metadata = "{}";
    if (cached_metadata_setting == nullptr || strcmp(cached_metadata_setting, metadata) != 0) {
        Jsonb *parsed = parse_metadata(metadata);
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        Jsonb *copy = static_cast<Jsonb *>(palloc(VARSIZE(parsed)));
        memcpy(copy, parsed, VARSIZE(parsed));
        char *setting_copy = pstrdup(metadata);
        MemoryContextSwitchTo(old);
        if (cached_metadata != nullptr) pfree(cached_metadata);
        if (cached_metadata_setting != nullptr) pfree(cached_metadata_setting);
        cached_metadata = copy;
        cached_metadata_setting = setting_copy;
    }
    return cached_metadata;
}

} // namespace saas
