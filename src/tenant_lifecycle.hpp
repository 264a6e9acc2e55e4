// Tenant lifecycle: the security label provider for personal columns.
#pragma once

namespace saas {

// Registers the security label provider "saas_schema" (the label
// 'personal' on table columns); called once from _PG_init.
void register_personal_label_provider();

} // namespace saas
