// Datum -> JSONB conversion with to_jsonb() fidelity, and the row diff.
#include "audit_diff.hpp"

extern "C" {
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/numeric.h"
#include "utils/uuid.h"
}

namespace saas::audit {
namespace {

void string_value(JsonbValue *out, const char *str, size_t len) {
    // Same limit and message as to_jsonb: a JSONB string has a 28-bit length.
    if (len > JENTRY_OFFLENMASK)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("string too long to represent as jsonb string"),
                        errdetail("Due to an implementation restriction, jsonb strings cannot "
                                  "exceed %d bytes.",
                                  JENTRY_OFFLENMASK)));
    out->type = jbvString;
    out->val.string.val = const_cast<char *>(str);
    out->val.string.len = static_cast<int>(len);
}

void uuid_value(JsonbValue *out, Datum value) {
    static const char hex[] = "0123456789abcdef";
    const pg_uuid_t *uuid = DatumGetUUIDP(value);
    char *buf = static_cast<char *>(palloc(37));
    char *p = buf;
    for (int i = 0; i < UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[uuid->data[i] >> 4];
        *p++ = hex[uuid->data[i] & 0x0f];
    }
    *p = '\0';
    string_value(out, buf, 36);
}

// Embeds a JSONB document: scalars become a scalar JsonbValue, containers
// are pushed whole.
void jsonb_value(JsonbValue *out, Jsonb *jsonb) {
    if (JB_ROOT_IS_SCALAR(jsonb)) {
        if (!JsonbExtractScalar(&jsonb->root, out)) elog(ERROR, "could not extract jsonb scalar");
        return;
    }
    out->type = jbvBinary;
    out->val.binary.data = &jsonb->root;
    out->val.binary.len = VARSIZE(jsonb) - VARHDRSZ;
}

void column_value(JsonbValue *out, const Column &col, Datum value, bool isnull) {
    if (isnull) {
        out->type = jbvNull;
        return;
    }
    switch (col.kind) {
    case ValueKind::Bool:
        out->type = jbvBool;
        out->val.boolean = DatumGetBool(value);
        return;
    case ValueKind::Integer: {
        // to_jsonb prints the integer and reads it back as numeric: the same
        // value with scale 0, which is what the int->numeric casts give.
        Datum number;
        if (col.type_id == INT2OID)
            number = DirectFunctionCall1(int2_numeric, value);
        else if (col.type_id == INT4OID)
            number = DirectFunctionCall1(int4_numeric, value);
        else
            number = DirectFunctionCall1(int8_numeric, value);
        out->type = jbvNumeric;
        out->val.numeric = DatumGetNumeric(number);
        return;
    }
    case ValueKind::Numeric: {
        Numeric number = DatumGetNumeric(value);
        if (numeric_is_nan(number) || numeric_is_inf(number)) {
            // Not valid JSON numbers: to_jsonb writes them as strings.
            char *str = DatumGetCString(DirectFunctionCall1(numeric_out, value));
            string_value(out, str, strlen(str));
        } else {
            out->type = jbvNumeric;
            out->val.numeric = number;
        }
        return;
    }
    case ValueKind::Text: {
        text *txt = DatumGetTextPP(value);
        string_value(out, VARDATA_ANY(txt), VARSIZE_ANY_EXHDR(txt));
        return;
    }
    case ValueKind::Uuid:
        uuid_value(out, value);
        return;
    case ValueKind::Jsonb:
        jsonb_value(out, DatumGetJsonbP(value));
        return;
    case ValueKind::DateTime: {
        char *str = JsonEncodeDateTime(nullptr, value, col.type_id, nullptr);
        string_value(out, str, strlen(str));
        return;
    }
    case ValueKind::Generic:
        break;
    }
    Datum converted =
        FunctionCall1Coll(const_cast<FmgrInfo *>(&col.to_jsonb_fn), InvalidOid, value);
    jsonb_value(out, DatumGetJsonbP(converted));
}

void push_column(JsonbParseState **state, const Column &col, Datum value, bool isnull) {
    JsonbValue key;
    key.type = jbvString;
    key.val.string.val = const_cast<char *>(NameStr(col.name));
    key.val.string.len = static_cast<int>(strlen(NameStr(col.name)));
    pushJsonbValue(state, WJB_KEY, &key);
    JsonbValue value_jb;
    column_value(&value_jb, col, value, isnull);
    pushJsonbValue(state, WJB_VALUE, &value_jb);
}

bool recorded(const Column &col) {
    return !col.dropped && !col.excluded;
}

} // namespace

Jsonb *row_to_jsonb(const RelationInfo *info, const Datum *values, const bool *nulls) {
    JsonbParseState *state = nullptr;
    pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
    for (int i = 0; i < info->natts; i++) {
        const Column &col = info->columns[i];
        if (recorded(col)) push_column(&state, col, values[i], nulls[i]);
    }
    JsonbValue *result = pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
    return JsonbValueToJsonb(result);
}

bool column_changed(const Column &col, Datum old_value, bool old_null, Datum new_value,
                    bool new_null) {
    if (old_null || new_null) return old_null != new_null;
    if (col.type_len == -1) {
        // An UPDATE that does not touch a TOASTed column keeps the same
        // TOAST pointer: equal without fetching megabytes twice.
        struct varlena *a = reinterpret_cast<struct varlena *>(DatumGetPointer(old_value));
        struct varlena *b = reinterpret_cast<struct varlena *>(DatumGetPointer(new_value));
        if (VARATT_IS_EXTERNAL_ONDISK(a) && VARATT_IS_EXTERNAL_ONDISK(b) &&
            VARSIZE_EXTERNAL(a) == VARSIZE_EXTERNAL(b) && memcmp(a, b, VARSIZE_EXTERNAL(a)) == 0)
            return false;
    }
    return !datum_image_eq(old_value, new_value, col.type_by_val, col.type_len);
}

bool diff_update(const RelationInfo *info, const Datum *old_values, const bool *old_nulls,
                 const Datum *new_values, const bool *new_nulls, RowChange *change) {
    int *changed = static_cast<int *>(palloc(sizeof(int) * Max(info->natts, 1)));
    int changed_count = 0;
    bool meaningful = false;
    for (int i = 0; i < info->natts; i++) {
        const Column &col = info->columns[i];
        // An excluded column is compared too: that it changed (a password
        // reset) is recorded by name in changed_columns, its values never.
        if (col.dropped) continue;
        if (!column_changed(col, old_values[i], old_nulls[i], new_values[i], new_nulls[i]))
            continue;
        changed[changed_count++] = i + 1;
        if (!col.updated_at) meaningful = true;
    }
    if (!meaningful) {
        pfree(changed);
        return false;
    }

    JsonbParseState *old_state = nullptr;
    JsonbParseState *new_state = nullptr;
    pushJsonbValue(&old_state, WJB_BEGIN_OBJECT, nullptr);
    pushJsonbValue(&new_state, WJB_BEGIN_OBJECT, nullptr);
    for (int c = 0; c < changed_count; c++) {
        int i = changed[c] - 1;
        if (!recorded(info->columns[i])) continue;
        push_column(&old_state, info->columns[i], old_values[i], old_nulls[i]);
        push_column(&new_state, info->columns[i], new_values[i], new_nulls[i]);
    }
    change->old_values = JsonbValueToJsonb(pushJsonbValue(&old_state, WJB_END_OBJECT, nullptr));
    change->new_values = JsonbValueToJsonb(pushJsonbValue(&new_state, WJB_END_OBJECT, nullptr));
    change->changed_count = changed_count;
    change->changed_attnos = changed;

    change->action = "UPDATE";
    if (info->deleted_at_attno > 0) {
        int d = info->deleted_at_attno - 1;
        if (old_nulls[d] && !new_nulls[d])
            change->action = "SOFT_DELETE";
        else if (!old_nulls[d] && new_nulls[d])
            change->action = "RESTORE";
    }
    return true;
}

} // namespace saas::audit
