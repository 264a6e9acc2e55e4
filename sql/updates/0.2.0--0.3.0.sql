-- saas_schema 0.2.0 -> 0.3.0: saas.distribute(), the scale-out on Citus, and
-- saas.audit_create_partitions() working on a distributed audit_logs.  No
-- table changes.

--#changed-functions

--#create distribute
