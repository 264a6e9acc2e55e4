// Transaction-local application settings.
#include "settings.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace saas {

namespace {
int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
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

bool read_uuid_setting(const char *setting_name, pg_uuid_t *out) {
    // The last text seen and its parse: the policy calls this once per row on
    // sequential scans, so skip re-parsing an unchanged value.
    static char cached_text[64];
    static char cached_name[64];
    static pg_uuid_t cached_value;

    const char *value = GetConfigOption(setting_name, true, false);
    if (value == nullptr || value[0] == '\0') return false;

    size_t len = strlen(value);
    if (len < sizeof cached_text && strcmp(cached_name, setting_name) == 0 &&
        strcmp(cached_text, value) == 0) {
        *out = cached_value;
        return true;
    }
    if (!parse_uuid_text(value, out))
        ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
                        errmsg("setting \"%s\" is not a valid uuid: \"%s\"", setting_name, value),
                        errhint("Set it with SET LOCAL %s = '<uuid>' inside a transaction, or "
                                "leave it unset.",
                                setting_name)));
    if (len < sizeof cached_text && strlen(setting_name) < sizeof cached_name) {
        memcpy(cached_text, value, len + 1);
        strcpy(cached_name, setting_name);
        cached_value = *out;
    }
    return true;
}

} // namespace saas
