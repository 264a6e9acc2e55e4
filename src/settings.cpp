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

} // namespace saas
