-- Soft deletes: soft_delete/restore with exact cascade reversal, the purge,
-- and the active-row views.
--
-- soft_delete/restore follow ON DELETE CASCADE foreign keys to soft-deletable
-- children (projects -> tasks -> task_comments -> replies, tickets ->
-- ticket_comments -> replies).  One call stamps every row it cascades to with
-- the same deleted_at (clock_timestamp() of the call), which is what restore
-- uses to reverse exactly that delete: a child deleted at another time keeps
-- its own deleted_at and is left alone.
CREATE FUNCTION saas.current_actor_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_current_actor_id';
COMMENT ON FUNCTION saas.current_actor_id() IS
    'The acting user (setting app.current_user_id, set by saas.set_actor), NULL when unset; raises 22P02 when the setting is not a uuid.';
