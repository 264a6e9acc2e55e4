// The one place PostgreSQL's headers are included from C++.
//
// Standard and fmt headers come first: PostgreSQL's port.h redefines
// snprintf/vsnprintf and friends as macros, which breaks <cstdio>-using
// headers included after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

// We build with -fvisibility=hidden so fmt's inline symbols stay private to
// this library; the PostgreSQL entry points must stay visible.  PG16+ does
// this itself; for 13-15 we predefine the export attribute c.h would leave empty.
#ifndef PGDLLEXPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#endif

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}
