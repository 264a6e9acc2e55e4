-- saas_schema 0.1.0: install script.  Frozen once released; changes ship as
-- saas_schema--A--B.sql upgrade scripts plus their downgrades.
--
-- Security rules for extension scripts (PostgreSQL docs, "Security
-- Considerations for Extensions"): every reference is schema-qualified, and no
-- CREATE OR REPLACE is used on an object that could already exist.

\echo Use "CREATE EXTENSION saas_schema" to load this file. \quit

-- ============================================================================
-- section: uuidv7 (issue 3)
-- ============================================================================
-- RFC 9562 version 7 UUIDs (src/uuidv7.cpp): time-ordered keys, so B-tree
-- inserts append at the right edge.  Strictly increasing within a backend.
CREATE FUNCTION saas.uuid_generate_v7() RETURNS uuid
    LANGUAGE c VOLATILE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_uuid_generate_v7';
COMMENT ON FUNCTION saas.uuid_generate_v7() IS
    'RFC 9562 UUID version 7 (Unix ms + 12-bit sub-ms clock fraction + 62 random bits), monotonic per backend';

CREATE FUNCTION saas.uuid_v7_to_timestamptz(uuid) RETURNS timestamptz
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_uuid_v7_to_timestamptz';
COMMENT ON FUNCTION saas.uuid_v7_to_timestamptz(uuid) IS
    'Millisecond timestamp embedded in a version 7 UUID; error for other versions';

CREATE FUNCTION saas.uuid_v7_lower_bound(timestamptz) RETURNS uuid
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_uuid_v7_lower_bound';
COMMENT ON FUNCTION saas.uuid_v7_lower_bound(timestamptz) IS
    'Smallest version 7 UUID of the millisecond containing the timestamp, for range scans: id >= saas.uuid_v7_lower_bound(t)';

-- ============================================================================
-- section: tables (core, issue 2)
-- ============================================================================
-- Conventions (see README "Schema at a glance"):
--  * every tenant table carries organization_id NOT NULL, and organization_id
--    leads every PRIMARY KEY, UNIQUE constraint, foreign key and index, so the
--    schema can be distributed by tenant on Citus and every tenant-scoped
--    query (RLS adds organization_id = <tenant>) can use the indexes;
--  * references between tenant tables are composite
--    (organization_id, x_id) -> parent (organization_id, id): the database
--    itself refuses a row that points at another tenant's row;
--  * foreign keys to users use NO ACTION (users are deactivated, not
--    deleted; NO ACTION, unlike RESTRICT, is checked at the end of the
--    statement, so deleting a whole organization still cascades cleanly);
--    containment (organization -> project -> task -> comment) uses CASCADE;
--    no SET NULL / SET DEFAULT / ON UPDATE actions (Citus forbids them on
--    distributed composite keys).

CREATE TYPE saas.ticket_status AS ENUM ('open', 'in_progress', 'closed');
COMMENT ON TYPE saas.ticket_status IS 'Lifecycle of a support ticket.';

-- ---------------------------------------------------------------------------
-- organizations: the tenant root
-- ---------------------------------------------------------------------------
CREATE TABLE saas.organizations (
    id          uuid         NOT NULL DEFAULT saas.uuid_generate_v7(),
    name        varchar(150) NOT NULL,
    slug        varchar(80)  NOT NULL,
    plan        varchar(30)  NOT NULL DEFAULT 'free',
    created_at  timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT pk_organizations PRIMARY KEY (id),
    CONSTRAINT uq_organizations_slug UNIQUE (slug),
    CONSTRAINT chk_organizations_name_not_blank CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT chk_organizations_slug_format
        CHECK (slug OPERATOR(pg_catalog.~) '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'),
    CONSTRAINT chk_organizations_plan
        CHECK (plan IN ('free', 'starter', 'pro', 'enterprise'))
);
COMMENT ON TABLE saas.organizations IS 'Tenants. Every other table belongs to exactly one organization.';
COMMENT ON COLUMN saas.organizations.slug IS 'URL-safe unique handle: lowercase letters, digits and inner hyphens, 1-80 characters.';
COMMENT ON COLUMN saas.organizations.plan IS 'Billing plan: free, starter, pro or enterprise.';

-- ---------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------
CREATE TABLE saas.users (
    id               uuid         NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid         NOT NULL,
    email            public.citext NOT NULL,
    password_hash    text         NOT NULL,
    full_name        varchar(150),
    role             varchar(20)  NOT NULL DEFAULT 'member',
    is_active        boolean      NOT NULL DEFAULT true,
    age              integer,
    created_at       timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT pk_users PRIMARY KEY (organization_id, id),
    CONSTRAINT uq_users_organization_id_email UNIQUE (organization_id, email),
    CONSTRAINT fk_users_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT chk_users_email_format
        CHECK (pg_catalog.length(email::text) <= 254
               AND email::text OPERATOR(pg_catalog.~) '^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$'),
    CONSTRAINT chk_users_password_hash_not_empty CHECK (password_hash <> ''),
    CONSTRAINT chk_users_role CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    CONSTRAINT chk_users_age_range CHECK (age BETWEEN 13 AND 120)
);
COMMENT ON TABLE saas.users IS 'Accounts. An email is unique within its organization (case-insensitively), not globally. Deactivate (is_active = false) rather than delete: rows elsewhere refer to users.';
COMMENT ON COLUMN saas.users.email IS 'Login email, case-insensitive (citext), unique per organization.';
COMMENT ON COLUMN saas.users.password_hash IS 'A password hash (e.g. argon2/bcrypt output), never a password. Excluded from audit logs.';
COMMENT ON COLUMN saas.users.role IS 'Role within the organization: owner, admin, member or viewer.';
COMMENT ON COLUMN saas.users.age IS 'Optional; 13 to 120 when given.';

-- ---------------------------------------------------------------------------
-- projects
-- ---------------------------------------------------------------------------
CREATE TABLE saas.projects (
    id               uuid         NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid         NOT NULL,
    name             varchar(200) NOT NULL,
    description      text,
    status           varchar(20)  NOT NULL DEFAULT 'active',
    created_by_id    uuid,
    created_at       timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    deleted_at       timestamptz,
    deleted_by_id    uuid,
    CONSTRAINT pk_projects PRIMARY KEY (organization_id, id),
    CONSTRAINT fk_projects_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_projects_users_created_by FOREIGN KEY (organization_id, created_by_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT fk_projects_users_deleted_by FOREIGN KEY (organization_id, deleted_by_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT chk_projects_name_not_blank CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT chk_projects_status CHECK (status IN ('active', 'on_hold', 'completed', 'archived')),
    CONSTRAINT chk_projects_deleted_by_requires_deleted_at
        CHECK (deleted_by_id IS NULL OR deleted_at IS NOT NULL)
);
COMMENT ON TABLE saas.projects IS 'Work containers. Soft-deletable: deleted_at IS NULL means active.';
COMMENT ON COLUMN saas.projects.status IS 'active, on_hold, completed or archived.';
COMMENT ON COLUMN saas.projects.deleted_at IS 'Set when soft-deleted; NULL for active rows.';
COMMENT ON COLUMN saas.projects.deleted_by_id IS 'The user who soft-deleted the row, if known.';

-- ---------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------
CREATE TABLE saas.tasks (
    id               uuid         NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid         NOT NULL,
    project_id       uuid         NOT NULL,
    assignee_id      uuid,
    created_by_id    uuid,
    title            varchar(255) NOT NULL,
    description      text,
    status           varchar(20)  NOT NULL DEFAULT 'todo',
    priority         smallint     NOT NULL DEFAULT 3,
    due_date         date,
    custom_fields    jsonb        NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    deleted_at       timestamptz,
    deleted_by_id    uuid,
    CONSTRAINT pk_tasks PRIMARY KEY (organization_id, id),
    CONSTRAINT fk_tasks_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_tasks_projects FOREIGN KEY (organization_id, project_id)
        REFERENCES saas.projects (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_tasks_users_assignee FOREIGN KEY (organization_id, assignee_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT fk_tasks_users_created_by FOREIGN KEY (organization_id, created_by_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT fk_tasks_users_deleted_by FOREIGN KEY (organization_id, deleted_by_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT chk_tasks_title_not_blank CHECK (pg_catalog.btrim(title) <> ''),
    CONSTRAINT chk_tasks_status CHECK (status IN ('todo', 'in_progress', 'done')),
    CONSTRAINT chk_tasks_priority_range CHECK (priority BETWEEN 1 AND 5),
    CONSTRAINT chk_tasks_custom_fields_object
        CHECK (pg_catalog.jsonb_typeof(custom_fields) = 'object'),
    CONSTRAINT chk_tasks_deleted_by_requires_deleted_at
        CHECK (deleted_by_id IS NULL OR deleted_at IS NOT NULL)
);
COMMENT ON TABLE saas.tasks IS 'Units of work inside a project. Soft-deletable.';
COMMENT ON COLUMN saas.tasks.status IS 'todo, in_progress or done.';
COMMENT ON COLUMN saas.tasks.priority IS '1 (highest) to 5 (lowest); default 3.';
COMMENT ON COLUMN saas.tasks.custom_fields IS 'Tenant-defined fields; always a JSON object.';
COMMENT ON COLUMN saas.tasks.deleted_at IS 'Set when soft-deleted; NULL for active rows.';

-- ---------------------------------------------------------------------------
-- task_comments (threaded)
-- ---------------------------------------------------------------------------
CREATE TABLE saas.task_comments (
    id               uuid        NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid        NOT NULL,
    task_id          uuid        NOT NULL,
    parent_id        uuid,
    author_id        uuid        NOT NULL,
    body             text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at       timestamptz,
    deleted_by_id    uuid,
    CONSTRAINT pk_task_comments PRIMARY KEY (organization_id, id),
    -- Target of the thread FK below: a reply must sit on its parent's task.
    CONSTRAINT uq_task_comments_organization_id_task_id_id UNIQUE (organization_id, task_id, id),
    CONSTRAINT fk_task_comments_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_task_comments_tasks FOREIGN KEY (organization_id, task_id)
        REFERENCES saas.tasks (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_task_comments_task_comments FOREIGN KEY (organization_id, task_id, parent_id)
        REFERENCES saas.task_comments (organization_id, task_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_task_comments_users_author FOREIGN KEY (organization_id, author_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT fk_task_comments_users_deleted_by FOREIGN KEY (organization_id, deleted_by_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT chk_task_comments_body_not_blank CHECK (pg_catalog.btrim(body) <> ''),
    CONSTRAINT chk_task_comments_not_own_parent CHECK (parent_id IS DISTINCT FROM id),
    CONSTRAINT chk_task_comments_deleted_by_requires_deleted_at
        CHECK (deleted_by_id IS NULL OR deleted_at IS NOT NULL)
);
COMMENT ON TABLE saas.task_comments IS 'Discussion on tasks, threaded through parent_id (NULL for a top-level comment). Soft-deletable.';
COMMENT ON COLUMN saas.task_comments.parent_id IS 'The comment this one replies to; it must belong to the same task.';

-- ---------------------------------------------------------------------------
-- tags, task_tags
-- ---------------------------------------------------------------------------
CREATE TABLE saas.tags (
    id               uuid        NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid        NOT NULL,
    name             varchar(50) NOT NULL,
    color            varchar(7),
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT pk_tags PRIMARY KEY (organization_id, id),
    CONSTRAINT uq_tags_organization_id_name UNIQUE (organization_id, name),
    CONSTRAINT fk_tags_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT chk_tags_name_not_blank CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT chk_tags_color_hex CHECK (color OPERATOR(pg_catalog.~) '^#[0-9A-Fa-f]{6}$')
);
COMMENT ON TABLE saas.tags IS 'Labels shared by tasks and tickets; name unique per organization.';
COMMENT ON COLUMN saas.tags.color IS 'Hex colour #RRGGBB, optional.';

CREATE TABLE saas.task_tags (
    organization_id  uuid        NOT NULL,
    task_id          uuid        NOT NULL,
    tag_id           uuid        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT pk_task_tags PRIMARY KEY (organization_id, task_id, tag_id),
    CONSTRAINT fk_task_tags_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_task_tags_tasks FOREIGN KEY (organization_id, task_id)
        REFERENCES saas.tasks (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_task_tags_tags FOREIGN KEY (organization_id, tag_id)
        REFERENCES saas.tags (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE saas.task_tags IS 'Many-to-many between tasks and tags. Deleting either side removes the link.';

-- ---------------------------------------------------------------------------
-- ticket_categories, tickets, ticket_comments, ticket_tags
-- ---------------------------------------------------------------------------
CREATE TABLE saas.ticket_categories (
    id               uuid         NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid         NOT NULL,
    name             varchar(100) NOT NULL,
    color            varchar(7),
    display_order    integer      NOT NULL DEFAULT 0,
    created_at       timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz  NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT pk_ticket_categories PRIMARY KEY (organization_id, id),
    CONSTRAINT uq_ticket_categories_organization_id_name UNIQUE (organization_id, name),
    CONSTRAINT fk_ticket_categories_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT chk_ticket_categories_name_not_blank CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT chk_ticket_categories_color_hex CHECK (color OPERATOR(pg_catalog.~) '^#[0-9A-Fa-f]{6}$'),
    CONSTRAINT chk_ticket_categories_display_order CHECK (display_order >= 0)
);
COMMENT ON TABLE saas.ticket_categories IS 'Tenant-defined ticket categories (a reference table with metadata rather than an enum).';
COMMENT ON COLUMN saas.ticket_categories.display_order IS 'Sort position in pickers, ascending, >= 0.';

CREATE TABLE saas.tickets (
    id               uuid               NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid               NOT NULL,
    title            varchar(500)       NOT NULL,
    description      text,
    status           saas.ticket_status NOT NULL DEFAULT 'open',
    priority         varchar(10)        NOT NULL DEFAULT 'normal',
    category_id      uuid,
    assignee_id      uuid,
    created_by_id    uuid               NOT NULL,
    custom_fields    jsonb              NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz        NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz        NOT NULL DEFAULT pg_catalog.now(),
    deleted_at       timestamptz,
    deleted_by_id    uuid,
    CONSTRAINT pk_tickets PRIMARY KEY (organization_id, id),
    CONSTRAINT fk_tickets_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_tickets_ticket_categories FOREIGN KEY (organization_id, category_id)
        REFERENCES saas.ticket_categories (organization_id, id),
    CONSTRAINT fk_tickets_users_assignee FOREIGN KEY (organization_id, assignee_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT fk_tickets_users_created_by FOREIGN KEY (organization_id, created_by_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT fk_tickets_users_deleted_by FOREIGN KEY (organization_id, deleted_by_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT chk_tickets_title_not_blank CHECK (pg_catalog.btrim(title) <> ''),
    CONSTRAINT chk_tickets_priority CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    CONSTRAINT chk_tickets_custom_fields_object
        CHECK (pg_catalog.jsonb_typeof(custom_fields) = 'object'),
    CONSTRAINT chk_tickets_deleted_by_requires_deleted_at
        CHECK (deleted_by_id IS NULL OR deleted_at IS NOT NULL)
);
COMMENT ON TABLE saas.tickets IS 'Support tickets. Soft-deletable. A category in use cannot be deleted (recategorize first).';
COMMENT ON COLUMN saas.tickets.status IS 'open, in_progress or closed (enum saas.ticket_status).';
COMMENT ON COLUMN saas.tickets.priority IS 'low, normal, high or urgent.';
COMMENT ON COLUMN saas.tickets.custom_fields IS 'Tenant-defined fields; always a JSON object; GIN-indexed for containment queries (@>).';
COMMENT ON COLUMN saas.tickets.deleted_at IS 'Set when soft-deleted; NULL for active rows.';

CREATE TABLE saas.ticket_comments (
    id               uuid        NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid        NOT NULL,
    ticket_id        uuid        NOT NULL,
    parent_id        uuid,
    author_id        uuid        NOT NULL,
    body             text        NOT NULL,
    is_internal      boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at       timestamptz,
    deleted_by_id    uuid,
    CONSTRAINT pk_ticket_comments PRIMARY KEY (organization_id, id),
    CONSTRAINT uq_ticket_comments_organization_id_ticket_id_id UNIQUE (organization_id, ticket_id, id),
    CONSTRAINT fk_ticket_comments_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_ticket_comments_tickets FOREIGN KEY (organization_id, ticket_id)
        REFERENCES saas.tickets (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_ticket_comments_ticket_comments FOREIGN KEY (organization_id, ticket_id, parent_id)
        REFERENCES saas.ticket_comments (organization_id, ticket_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_ticket_comments_users_author FOREIGN KEY (organization_id, author_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT fk_ticket_comments_users_deleted_by FOREIGN KEY (organization_id, deleted_by_id)
        REFERENCES saas.users (organization_id, id),
    CONSTRAINT chk_ticket_comments_body_not_blank CHECK (pg_catalog.btrim(body) <> ''),
    CONSTRAINT chk_ticket_comments_not_own_parent CHECK (parent_id IS DISTINCT FROM id),
    CONSTRAINT chk_ticket_comments_deleted_by_requires_deleted_at
        CHECK (deleted_by_id IS NULL OR deleted_at IS NOT NULL)
);
COMMENT ON TABLE saas.ticket_comments IS 'Discussion on tickets, threaded through parent_id. Soft-deletable.';
COMMENT ON COLUMN saas.ticket_comments.parent_id IS 'The comment this one replies to; it must belong to the same ticket.';
COMMENT ON COLUMN saas.ticket_comments.is_internal IS 'An agent-only note, not shown to the requester.';

CREATE TABLE saas.ticket_tags (
    organization_id  uuid        NOT NULL,
    ticket_id        uuid        NOT NULL,
    tag_id           uuid        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT pk_ticket_tags PRIMARY KEY (organization_id, ticket_id, tag_id),
    CONSTRAINT fk_ticket_tags_organizations FOREIGN KEY (organization_id)
        REFERENCES saas.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_ticket_tags_tickets FOREIGN KEY (organization_id, ticket_id)
        REFERENCES saas.tickets (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT fk_ticket_tags_tags FOREIGN KEY (organization_id, tag_id)
        REFERENCES saas.tags (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE saas.ticket_tags IS 'Many-to-many between tickets and tags.';

-- ---------------------------------------------------------------------------
-- Indexes.  Every foreign key is covered by an index whose leading columns
-- are the FK's columns (PostgreSQL does not create them; without them a
-- parent DELETE scans the child table).  The PRIMARY KEY (organization_id, id)
-- covers each fk_<t>_organizations.
-- ---------------------------------------------------------------------------
CREATE INDEX idx_projects_created_by_id ON saas.projects (organization_id, created_by_id);
CREATE INDEX idx_projects_deleted_by_id ON saas.projects (organization_id, deleted_by_id);
CREATE INDEX idx_projects_status_active ON saas.projects (organization_id, status) WHERE deleted_at IS NULL;

-- project + status (dashboard) also covers fk_tasks_projects.
CREATE INDEX idx_tasks_project_id_status ON saas.tasks (organization_id, project_id, status);
CREATE INDEX idx_tasks_assignee_id ON saas.tasks (organization_id, assignee_id);
CREATE INDEX idx_tasks_created_by_id ON saas.tasks (organization_id, created_by_id);
CREATE INDEX idx_tasks_deleted_by_id ON saas.tasks (organization_id, deleted_by_id);
CREATE INDEX idx_tasks_status_created_at ON saas.tasks (organization_id, status, created_at DESC);
-- Active tasks of a project (soft-deleted rows excluded).
CREATE INDEX idx_tasks_project_id_active ON saas.tasks (organization_id, project_id, created_at DESC)
    WHERE deleted_at IS NULL;
-- Active, unfinished tasks with a due date: "what is due soon".
CREATE INDEX idx_tasks_due_date_active ON saas.tasks (organization_id, due_date)
    WHERE status <> 'done' AND due_date IS NOT NULL AND deleted_at IS NULL;

-- (organization_id, task_id, parent_id) covers both the task FK and the thread FK.
CREATE INDEX idx_task_comments_task_id_parent_id ON saas.task_comments (organization_id, task_id, parent_id);
CREATE INDEX idx_task_comments_author_id ON saas.task_comments (organization_id, author_id);
CREATE INDEX idx_task_comments_deleted_by_id ON saas.task_comments (organization_id, deleted_by_id);
CREATE INDEX idx_task_comments_task_id_active ON saas.task_comments (organization_id, task_id, created_at)
    WHERE deleted_at IS NULL;

-- The PK (organization_id, task_id, tag_id) covers the task FK; this one the tag FK.
CREATE INDEX idx_task_tags_tag_id ON saas.task_tags (organization_id, tag_id);

CREATE INDEX idx_tickets_category_id ON saas.tickets (organization_id, category_id);
CREATE INDEX idx_tickets_assignee_id ON saas.tickets (organization_id, assignee_id);
CREATE INDEX idx_tickets_created_by_id ON saas.tickets (organization_id, created_by_id);
CREATE INDEX idx_tickets_deleted_by_id ON saas.tickets (organization_id, deleted_by_id);
CREATE INDEX idx_tickets_status_created_at ON saas.tickets (organization_id, status, created_at DESC);
-- The support queue: open, not deleted, oldest first.
CREATE INDEX idx_tickets_open ON saas.tickets (organization_id, created_at)
    WHERE status = 'open' AND deleted_at IS NULL;
CREATE INDEX idx_tickets_active ON saas.tickets (organization_id, created_at DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_tickets_custom_fields ON saas.tickets USING gin (custom_fields);

CREATE INDEX idx_ticket_comments_ticket_id_parent_id ON saas.ticket_comments (organization_id, ticket_id, parent_id);
CREATE INDEX idx_ticket_comments_author_id ON saas.ticket_comments (organization_id, author_id);
CREATE INDEX idx_ticket_comments_deleted_by_id ON saas.ticket_comments (organization_id, deleted_by_id);
CREATE INDEX idx_ticket_comments_ticket_id_active ON saas.ticket_comments (organization_id, ticket_id, created_at)
    WHERE deleted_at IS NULL;

CREATE INDEX idx_ticket_tags_tag_id ON saas.ticket_tags (organization_id, tag_id);

-- An extension's tables are dumped empty by pg_dump unless registered.
SELECT pg_catalog.pg_extension_config_dump('saas.organizations', '');
SELECT pg_catalog.pg_extension_config_dump('saas.users', '');
SELECT pg_catalog.pg_extension_config_dump('saas.projects', '');
SELECT pg_catalog.pg_extension_config_dump('saas.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('saas.task_comments', '');
SELECT pg_catalog.pg_extension_config_dump('saas.tags', '');
SELECT pg_catalog.pg_extension_config_dump('saas.task_tags', '');
SELECT pg_catalog.pg_extension_config_dump('saas.ticket_categories', '');
SELECT pg_catalog.pg_extension_config_dump('saas.tickets', '');
SELECT pg_catalog.pg_extension_config_dump('saas.ticket_comments', '');
SELECT pg_catalog.pg_extension_config_dump('saas.ticket_tags', '');

-- ============================================================================
-- section: updated_at trigger (issue 3)
-- ============================================================================
-- Maintains a timestamptz/timestamp column (default updated_at) on INSERT and
-- UPDATE and keeps created_at immutable; see src/updated_at.cpp.  Arguments:
-- ([column name [, 'changed' | 'always']]).  'changed' (default): an UPDATE
-- that changes no other column keeps the stored updated_at.
CREATE FUNCTION saas.set_updated_at() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_set_updated_at';
COMMENT ON FUNCTION saas.set_updated_at() IS
    'BEFORE INSERT OR UPDATE row trigger: sets updated_at to now() when the row changes, protects created_at';

-- Installs trigger trg_<table>_updated_at on tbl.  Returns true when it
-- created (or re-created with another column) the trigger, false when it was
-- already in place.  Not SECURITY DEFINER: the caller needs the right to
-- create triggers on tbl.
CREATE FUNCTION saas.enable_updated_at(tbl regclass, column_name name DEFAULT 'updated_at')
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    rel record;
    col record;
    trg record;
    trg_name name;
    arg0 bytea;
BEGIN
    IF tbl IS NULL OR column_name IS NULL THEN
        RAISE EXCEPTION 'saas.enable_updated_at: arguments must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relname, c.relkind INTO rel FROM pg_catalog.pg_class c WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'saas.enable_updated_at: relation with OID % does not exist', tbl::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'saas.enable_updated_at: "%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'Only ordinary and partitioned tables can have the updated_at trigger.';
    END IF;
    SELECT a.attnum, a.atttypid, a.attisdropped INTO col
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = column_name;
    IF NOT FOUND OR col.attisdropped THEN
        RAISE EXCEPTION 'saas.enable_updated_at: column "%" of relation "%" does not exist', column_name, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF col.attnum < 0 THEN
        RAISE EXCEPTION 'saas.enable_updated_at: "%" is a system column of relation "%"', column_name, tbl
            USING ERRCODE = 'invalid_column_reference';
    END IF;
    IF col.atttypid NOT IN ('pg_catalog.timestamptz'::pg_catalog.regtype, 'pg_catalog.timestamp'::pg_catalog.regtype) THEN
        RAISE EXCEPTION 'saas.enable_updated_at: column "%" of relation "%" is of type %',
                column_name, tbl, pg_catalog.format_type(col.atttypid, NULL)
            USING ERRCODE = 'datatype_mismatch',
                  DETAIL = 'The column must be timestamp with time zone or timestamp without time zone.';
    END IF;

    -- A partition already maintained through its parent's cloned trigger
    -- (named after the parent) must not get a second one.
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = tbl AND t.tgparentid <> 0
                  AND t.tgfoid = 'saas.set_updated_at()'::pg_catalog.regprocedure) THEN
        RAISE EXCEPTION 'saas.enable_updated_at: "%" already has the trigger through its partitioned parent', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Manage the trigger on the partitioned parent table.';
    END IF;
    -- A name cast truncates to NAMEDATALEN-1 like CREATE TRIGGER would, so the
    -- lookup below finds what we create even for long table names.
    trg_name := ('trg_' || rel.relname || '_updated_at')::name;
    SELECT t.tgfoid, t.tgnargs, t.tgargs, t.tgparentid INTO trg
      FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgname = trg_name;
    IF FOUND THEN
        IF trg.tgfoid <> 'saas.set_updated_at()'::pg_catalog.regprocedure THEN
            RAISE EXCEPTION 'saas.enable_updated_at: relation "%" already has a trigger "%" that does not call saas.set_updated_at()',
                    tbl, trg_name
                USING ERRCODE = 'duplicate_object';
        END IF;
        -- Same column already maintained (whatever its mode): nothing to do.
        -- tgargs holds the arguments, each followed by a NUL byte.
        arg0 := pg_catalog.convert_to(column_name::text, pg_catalog.getdatabaseencoding())
                || pg_catalog.decode('00', 'hex');
        IF (trg.tgnargs = 0 AND column_name = 'updated_at')
           OR (trg.tgnargs > 0 AND pg_catalog.substr(trg.tgargs, 1, pg_catalog.length(arg0)) = arg0) THEN
            RETURN false;
        END IF;
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg_name, tbl);
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION saas.set_updated_at(%L)',
        trg_name, tbl, column_name);
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION saas.enable_updated_at(regclass, name) IS
    'Installs trigger trg_<table>_updated_at (saas.set_updated_at) on a table; idempotent';

-- Removes trigger trg_<table>_updated_at.  Returns true when it dropped it,
-- false when there was nothing to drop.
CREATE FUNCTION saas.disable_updated_at(tbl regclass)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $fn$
DECLARE
    trg record;
    trg_name name;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'saas.disable_updated_at: argument must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT ('trg_' || c.relname || '_updated_at')::name INTO trg_name
      FROM pg_catalog.pg_class c WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'saas.disable_updated_at: relation with OID % does not exist', tbl::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    -- Disabling a partition alone would leave its parent's cloned trigger firing.
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = tbl AND t.tgparentid <> 0
                  AND t.tgfoid = 'saas.set_updated_at()'::pg_catalog.regprocedure) THEN
        RAISE EXCEPTION 'saas.disable_updated_at: "%" has the trigger through its partitioned parent', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call saas.disable_updated_at() on the partitioned parent table.';
    END IF;
    SELECT t.tgfoid INTO trg
      FROM pg_catalog.pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgname = trg_name;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF trg.tgfoid <> 'saas.set_updated_at()'::pg_catalog.regprocedure THEN
        RAISE EXCEPTION 'saas.disable_updated_at: trigger "%" on "%" does not call saas.set_updated_at()', trg_name, tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Drop that trigger with DROP TRIGGER if it is really unwanted.';
    END IF;
    EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trg_name, tbl);
    RETURN true;
END
$fn$;
COMMENT ON FUNCTION saas.disable_updated_at(regclass) IS
    'Removes trigger trg_<table>_updated_at installed by saas.enable_updated_at; idempotent';

-- Every saas table with an updated_at column gets the trigger, whatever
-- tables the sections above define.  Partitions inherit the parent's trigger;
-- tables without updated_at (the partitioned audit log) are skipped.
DO $do$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.oid::pg_catalog.regclass AS tbl
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
         WHERE n.nspname = 'saas' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND a.attname = 'updated_at' AND NOT a.attisdropped
         ORDER BY c.relname
    LOOP
        PERFORM saas.enable_updated_at(r.tbl, 'updated_at');
    END LOOP;
END
$do$;


-- ============================================================================
-- section: audit trigger (issue 4)
-- ============================================================================
-- The audit log.  One row per audited change, written by saas.audit_trigger()
-- (C++).  Design notes:
--  * No foreign keys: audit history must outlive the organizations, users and
--    records it describes.
--  * created_at is the time of the change (clock_timestamp(), not the
--    transaction start), so ordering by created_at is change order even when
--    an older transaction changes a row after a younger one did.
--  * Partitioned by month on created_at; the DEFAULT partition guarantees
--    that no audit row is ever refused.  saas.audit_create_partitions() adds
--    monthly partitions, saas.audit_drop_partitions() is the retention.
--  * Append-only: the trigger writes as the table owner, so the application
--    role needs no privilege here; a guard trigger refuses UPDATE, DELETE and
--    TRUNCATE.
CREATE TABLE saas.audit_logs (
    id               uuid         NOT NULL DEFAULT saas.uuid_generate_v7(),
    organization_id  uuid         NOT NULL,
    table_name       text         NOT NULL,
    record_id        uuid,
    action           text         NOT NULL,
    user_id          uuid,
    old_values       jsonb,
    new_values       jsonb,
    changed_columns  text[],
    transaction_id   bigint       NOT NULL,
    created_at       timestamptz  NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    metadata         jsonb        NOT NULL DEFAULT '{}',
    CONSTRAINT chk_audit_logs_action
        CHECK (action IN ('INSERT', 'UPDATE', 'DELETE', 'SOFT_DELETE', 'RESTORE')),
    CONSTRAINT chk_audit_logs_metadata_object CHECK (pg_catalog.jsonb_typeof(metadata) = 'object'),
    CONSTRAINT chk_audit_logs_values_present CHECK (old_values IS NOT NULL OR new_values IS NOT NULL)
) PARTITION BY RANGE (created_at);

-- Keys and indexes are per partition, not on the parent: the parent is an
-- extension member, so pg_dump does not dump it, and a restore's ATTACH of a
-- dumped monthly partition would clone the parent's indexes and then fail on
-- the partition's own dumped indexes ("already exists").  Each partition's
-- primary key includes the partition key created_at, so per-partition keys
-- are exactly as unique as a key on the parent.  saas.audit_create_partitions()
-- creates the same key and indexes on every partition:
--   pk_<partition>          (organization_id, created_at, id): a tenant's recent activity
--   idx_<partition>_record  (record_id, table_name, id): one record's history (record
--                           ids are UUIDs, so record_id first is selective with or
--                           without a tenant filter)
--   idx_<partition>_user    (organization_id, user_id, created_at DESC): one actor's changes
CREATE TABLE saas.audit_logs_default PARTITION OF saas.audit_logs (
    CONSTRAINT pk_audit_logs_default PRIMARY KEY (organization_id, created_at, id)
) DEFAULT;
CREATE INDEX idx_audit_logs_default_record ON saas.audit_logs_default (record_id, table_name, id);
CREATE INDEX idx_audit_logs_default_user ON saas.audit_logs_default (organization_id, user_id, created_at DESC);

COMMENT ON TABLE saas.audit_logs IS 'Append-only audit log of changes to tenant tables, written by saas.audit_trigger(). Partitioned by month on created_at.';
COMMENT ON COLUMN saas.audit_logs.id IS 'UUIDv7: ORDER BY id is change order.';
COMMENT ON COLUMN saas.audit_logs.table_name IS 'Logical schema.table of the audited table (the parent of a partition).';
COMMENT ON COLUMN saas.audit_logs.record_id IS 'The row''s uuid "id"; NULL for tables without one (junction tables: the key columns are in old_values/new_values).';
COMMENT ON COLUMN saas.audit_logs.action IS 'INSERT, UPDATE, DELETE; an UPDATE setting deleted_at from NULL is SOFT_DELETE, the reverse RESTORE.';
COMMENT ON COLUMN saas.audit_logs.user_id IS 'app.current_user_id of the session, NULL when unset.';
COMMENT ON COLUMN saas.audit_logs.old_values IS 'DELETE: the whole row; UPDATE: the changed columns before; values as to_jsonb() gives them.';
COMMENT ON COLUMN saas.audit_logs.new_values IS 'INSERT: the whole row; UPDATE: the changed columns after.';
COMMENT ON COLUMN saas.audit_logs.changed_columns IS 'UPDATE family: changed columns in column order; NULL for INSERT and DELETE.';
COMMENT ON COLUMN saas.audit_logs.transaction_id IS 'Top-level transaction id (txid_current() semantics).';
COMMENT ON COLUMN saas.audit_logs.created_at IS 'When the change was made (clock_timestamp()).';
COMMENT ON COLUMN saas.audit_logs.metadata IS 'app.request_metadata of the session (a JSON object), {} when unset.';

-- Extension members are not dumped by pg_dump unless registered: the parent
-- and the default partition are.  Partitions added later by
-- saas.audit_create_partitions() are not members and are dumped as ordinary
-- tables attached to the parent.
SELECT pg_catalog.pg_extension_config_dump('saas.audit_logs', '');
SELECT pg_catalog.pg_extension_config_dump('saas.audit_logs_default', '');

-- Refuses UPDATE, DELETE and TRUNCATE.  The only exception is the partition
-- maintenance of saas.audit_create_partitions(), which moves rows out of the
-- default partition: it sets a transaction-local flag, honoured only for the
-- owner of saas.audit_logs (an application role setting the flag gains
-- nothing).
CREATE FUNCTION saas.audit_logs_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
BEGIN
    IF pg_catalog.current_setting('saas_audit.partition_maintenance', true) = 'on'
       AND pg_catalog.pg_has_role(current_user,
                                  (SELECT c.relowner FROM pg_catalog.pg_class c
                                    WHERE c.oid = 'saas.audit_logs'::pg_catalog.regclass),
                                  'USAGE') THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'saas.audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('%s on %I.%I was refused.', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
              HINT = 'Old audit rows are removed only by saas.audit_drop_partitions().';
END;
$$;
COMMENT ON FUNCTION saas.audit_logs_guard() IS 'Guard trigger keeping saas.audit_logs append-only.';

CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON saas.audit_logs
    FOR EACH ROW EXECUTE FUNCTION saas.audit_logs_guard();
-- TRUNCATE triggers are not cloned to partitions: each partition gets one.
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON saas.audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_logs_guard();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON saas.audit_logs_default
    FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_logs_guard();

-- Monthly partitions (UTC months), named audit_logs_pYYYYMM, with the key and
-- indexes every partition has (see saas.audit_logs_default).  Creates the
-- partitions from months_back months ago to months_ahead months ahead that do
-- not exist yet, and returns their names.  Rows of those months already in
-- the default partition are moved into the new partition (ATTACH would
-- refuse otherwise).  Run by the owner of saas.audit_logs (e.g. from cron).
CREATE FUNCTION saas.audit_create_partitions(months_ahead integer DEFAULT 3, months_back integer DEFAULT 0)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    this_month timestamp := pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC');
    month_start timestamp;
    lower_bound timestamptz;
    upper_bound timestamptz;
    part text;
    columns constant text := 'id, organization_id, table_name, record_id, action, user_id, old_values, '
                             'new_values, changed_columns, transaction_id, created_at, metadata';
BEGIN
    IF months_ahead IS NULL OR months_ahead NOT BETWEEN 0 AND 120
       OR months_back IS NULL OR months_back NOT BETWEEN 0 AND 1200 THEN
        RAISE EXCEPTION 'invalid partition range: months_ahead % and months_back %',
                        COALESCE(months_ahead::text, 'NULL'), COALESCE(months_back::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'months_ahead must be between 0 and 120, months_back between 0 and 1200.';
    END IF;
    -- No audit row may land in the default partition while rows move out of it.
    LOCK TABLE saas.audit_logs_default IN ACCESS EXCLUSIVE MODE;
    FOR i IN -months_back .. months_ahead LOOP
        month_start := this_month OPERATOR(pg_catalog.+) pg_catalog.make_interval(months => i);
        part := 'audit_logs_p' OPERATOR(pg_catalog.||) pg_catalog.to_char(month_start, 'YYYYMM');
        CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_class c
                               WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relname = part);
        lower_bound := month_start AT TIME ZONE 'UTC';
        upper_bound := (month_start OPERATOR(pg_catalog.+) interval '1 month') AT TIME ZONE 'UTC';
        EXECUTE pg_catalog.format('CREATE TABLE saas.%I (LIKE saas.audit_logs INCLUDING DEFAULTS '
                                  'INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', part);
        PERFORM pg_catalog.set_config('saas_audit.partition_maintenance', 'on', true);
        EXECUTE pg_catalog.format('WITH moved AS (DELETE FROM saas.audit_logs_default '
                                  'WHERE created_at >= $1 AND created_at < $2 RETURNING %s) '
                                  'INSERT INTO saas.%I (%s) SELECT %s FROM moved',
                                  columns, part, columns, columns)
            USING lower_bound, upper_bound;
        PERFORM pg_catalog.set_config('saas_audit.partition_maintenance', 'off', true);
        -- Same key and indexes as the default partition (see above).
        EXECUTE pg_catalog.format('ALTER TABLE saas.%I ADD CONSTRAINT %I PRIMARY KEY (organization_id, created_at, id)',
                                  part, 'pk_' OPERATOR(pg_catalog.||) part);
        EXECUTE pg_catalog.format('CREATE INDEX %I ON saas.%I (record_id, table_name, id)',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_record', part);
        EXECUTE pg_catalog.format('CREATE INDEX %I ON saas.%I (organization_id, user_id, created_at DESC)',
                                  'idx_' OPERATOR(pg_catalog.||) part OPERATOR(pg_catalog.||) '_user', part);
        EXECUTE pg_catalog.format('ALTER TABLE saas.audit_logs ATTACH PARTITION saas.%I '
                                  'FOR VALUES FROM (%L) TO (%L)', part, lower_bound, upper_bound);
        EXECUTE pg_catalog.format('CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON saas.%I '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_logs_guard()', part);
        RETURN NEXT part;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION saas.audit_create_partitions(integer, integer) IS 'Creates missing monthly partitions of saas.audit_logs (UTC months, audit_logs_pYYYYMM), moving rows of those months out of the default partition. Returns the partitions created.';

-- Retention: drops the monthly partitions that lie entirely before
-- now() - older_than, and returns their names.  The only way audit rows are
-- removed.  Rows in the default partition are never dropped.
CREATE FUNCTION saas.audit_drop_partitions(older_than interval)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
    part record;
    upper_text text;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval, not %', COALESCE(older_than::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := pg_catalog.now() OPERATOR(pg_catalog.-) older_than;
    FOR part IN
        SELECT c.relname, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'saas.audit_logs'::pg_catalog.regclass
         ORDER BY c.relname
    LOOP
        upper_text := (pg_catalog.regexp_match(part.bound, $re$ TO \('([^']+)'\)$re$))[1];
        CONTINUE WHEN upper_text IS NULL;  -- the default partition, or an unbounded one
        IF upper_text::timestamptz <= cutoff THEN
            EXECUTE pg_catalog.format('DROP TABLE saas.%I', part.relname);
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION saas.audit_drop_partitions(interval) IS 'Retention: drops partitions of saas.audit_logs entirely older than now() - older_than; returns their names.';

-- The audit trigger (C++).  FOR EACH ROW, or FOR EACH STATEMENT with
-- transition tables.  Arguments: logical table name, tenant column, excluded
-- columns.  Install it with saas.enable_audit().  No SET clause: it would
-- cost a GUC save/restore per row, and the C++ code does not depend on
-- search_path.
CREATE FUNCTION saas.audit_trigger() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'saas_audit_trigger';
COMMENT ON FUNCTION saas.audit_trigger() IS 'Audit trigger: writes one saas.audit_logs row per changed row (C++). Install with saas.enable_audit().';

-- The logical name audit rows carry for a table: schema.table.
CREATE FUNCTION saas.audit_table_name(tbl regclass) RETURNS text
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, saas, pg_temp
AS $$
    SELECT n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl
$$;
COMMENT ON FUNCTION saas.audit_table_name(regclass) IS 'The table_name under which saas.audit_logs records changes of a table.';

CREATE FUNCTION saas.disable_audit(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    rel record;
    trg record;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relname, n.nspname INTO rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%.%" is not a table', rel.nspname, rel.relname
            USING ERRCODE = 'wrong_object_type';
    END IF;
    -- Only the triggers defined on this table: clones on partitions go with them.
    FOR trg IN
        SELECT t.tgname FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid = tbl AND t.tgparentid = 0
           AND t.tgname IN ('saas_audit', 'saas_audit_insert', 'saas_audit_update', 'saas_audit_delete')
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %I.%I', trg.tgname, rel.nspname, rel.relname);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION saas.disable_audit(regclass) IS 'Removes the audit triggers of a table (idempotent).';

CREATE FUNCTION saas.enable_audit(tbl regclass, excluded_columns text[] DEFAULT '{}', mode text DEFAULT 'row',
                                  tenant_column text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    rel record;
    tenant_base_type oid;
    col text;
    args text;
    target text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF mode IS NULL OR mode NOT IN ('row', 'statement') THEN
        RAISE EXCEPTION 'invalid audit mode "%"', mode
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''row'' (the default, best for single-row changes) or ''statement'' (bulk changes).';
    END IF;
    IF excluded_columns IS NULL OR pg_catalog.array_position(excluded_columns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'excluded_columns must not be NULL or contain NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind, c.relname, n.nspname INTO rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%.%" is not a table', rel.nspname, rel.relname
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Only ordinary and partitioned tables can be audited.';
    END IF;
    IF tbl = 'saas.audit_logs'::regclass
       OR EXISTS (SELECT FROM pg_catalog.pg_partition_ancestors(tbl) a
                   WHERE a.relid = 'saas.audit_logs'::regclass) THEN
        RAISE EXCEPTION 'the audit log itself cannot be audited' USING ERRCODE = 'wrong_object_type';
    END IF;
    -- The tenant root is its own tenant; other tables name it organization_id
    -- unless the caller says otherwise.
    IF tenant_column IS NULL THEN
        tenant_column := CASE WHEN rel.nspname = 'saas' AND rel.relname = 'organizations'
                              THEN 'id' ELSE 'organization_id' END;
    END IF;
    SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END INTO tenant_base_type
      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%.%" has no column "%"', rel.nspname, rel.relname, tenant_column
            USING ERRCODE = 'undefined_column',
                  DETAIL = 'Every audit row belongs to a tenant: an audited table needs an organization_id uuid column.';
    END IF;
    IF tenant_base_type <> 'pg_catalog.uuid'::pg_catalog.regtype THEN
        RAISE EXCEPTION 'column "%" of table "%.%" must be of type uuid', tenant_column, rel.nspname, rel.relname
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    FOREACH col IN ARRAY excluded_columns LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'column "%" of table "%.%" does not exist', col, rel.nspname, rel.relname
                USING ERRCODE = 'undefined_column',
                      HINT = 'excluded_columns lists columns never written to the audit log.';
        END IF;
        IF col = tenant_column THEN
            RAISE EXCEPTION 'the tenant column "%" cannot be excluded from the audit', col
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;

    PERFORM saas.disable_audit(tbl);

    target := pg_catalog.format('%I.%I', rel.nspname, rel.relname);
    args := pg_catalog.quote_literal(rel.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) rel.relname)
            OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(tenant_column);
    FOREACH col IN ARRAY excluded_columns LOOP
        args := args OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(col);
    END LOOP;

    IF mode = 'row' THEN
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit AFTER INSERT OR UPDATE OR DELETE ON %s '
                                  'FOR EACH ROW EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
    ELSE
        -- A trigger with transition tables can have only one event.
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_insert AFTER INSERT ON %s '
                                  'REFERENCING NEW TABLE AS saas_new_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_update AFTER UPDATE ON %s '
                                  'REFERENCING OLD TABLE AS saas_old_rows NEW TABLE AS saas_new_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
        EXECUTE pg_catalog.format('CREATE TRIGGER saas_audit_delete AFTER DELETE ON %s '
                                  'REFERENCING OLD TABLE AS saas_old_rows '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION saas.audit_trigger(%s)', target, args);
    END IF;
END;
$$;
COMMENT ON FUNCTION saas.enable_audit(regclass, text[], text, text) IS 'Installs the audit trigger on a table (idempotent). mode => ''row'' (default) or ''statement'' (transition tables, for bulk changes); tenant_column defaults to organization_id (id for saas.organizations). Columns named password_hash are never recorded.';

-- A record's audit rows, oldest first.
CREATE FUNCTION saas.record_history(tbl regclass, id uuid) RETURNS SETOF saas.audit_logs
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
AS $$
    SELECT a.*
      FROM saas.audit_logs a
     WHERE a.record_id OPERATOR(pg_catalog.=) record_history.id
       AND a.table_name OPERATOR(pg_catalog.=) saas.audit_table_name(record_history.tbl)
     ORDER BY a.created_at, a.id
$$;
COMMENT ON FUNCTION saas.record_history(regclass, uuid) IS 'The audit rows of one record, oldest first.';

-- A record's state at a point in time, rebuilt from the audit rows: the
-- INSERT's full row, then each UPDATE's new values; NULL when the record did
-- not exist (or was deleted) at that time.
CREATE FUNCTION saas.record_as_of(tbl regclass, id uuid, at timestamptz) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, saas, pg_temp
AS $$
DECLARE
    state jsonb;
    change record;
BEGIN
    IF tbl IS NULL OR id IS NULL OR at IS NULL THEN
        RAISE EXCEPTION 'arguments of saas.record_as_of must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR change IN
        SELECT h.action, h.new_values FROM saas.record_history(tbl, id) h
         WHERE h.created_at OPERATOR(pg_catalog.<=) at
    LOOP
        IF change.action = 'INSERT' THEN
            state := change.new_values;
        ELSIF change.action = 'DELETE' THEN
            state := NULL;
        ELSE
            state := COALESCE(state, '{}'::jsonb) OPERATOR(pg_catalog.||) change.new_values;
        END IF;
    END LOOP;
    RETURN state;
END;
$$;
COMMENT ON FUNCTION saas.record_as_of(regclass, uuid, timestamptz) IS 'A record''s recorded columns as JSONB at a point in time, rebuilt from saas.audit_logs; NULL if it did not exist then.';

-- Audit every tenant table of the schema out of the box.  The tenant root
-- (organizations) uses its own id as tenant; users' password_hash is never
-- recorded; junction tables without an id get record_id NULL.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.oid::pg_catalog.regclass AS tbl, c.relname
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace
           AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relname NOT LIKE 'audit\_logs%'
           AND (c.relname = 'organizations'
                OR EXISTS (SELECT FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = c.oid AND a.attname = 'organization_id'
                              AND a.attnum > 0 AND NOT a.attisdropped))
         ORDER BY c.relname
    LOOP
        IF t.relname = 'users' THEN
            PERFORM saas.enable_audit(t.tbl, ARRAY['password_hash']);
        ELSE
            PERFORM saas.enable_audit(t.tbl);
        END IF;
    END LOOP;
END;
$$;

-- ============================================================================
-- section: tenant isolation (issue 5)
-- ============================================================================
-- The tenant is a transaction-local setting, app.current_tenant_id, set with
-- SET LOCAL (through saas.set_tenant) so that a pooled connection can never
-- carry one client's tenant over to the next.  Every tenant table has RLS
-- enabled and forced with one policy, tenant_isolation:
--     organization_id = saas.current_tenant_id()      (USING and WITH CHECK)
-- current_tenant_id() is NULL when no tenant is set, so the comparison is
-- NULL and the policy fails closed: nothing visible, every write refused.

CREATE FUNCTION saas.current_tenant_id() RETURNS uuid
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'saas_current_tenant_id';
COMMENT ON FUNCTION saas.current_tenant_id() IS
    'The current tenant (setting app.current_tenant_id), NULL when unset or empty; raises 22P02 when the setting is not a uuid.';

CREATE FUNCTION saas._require_transaction_block(caller text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'saas_require_transaction_block';
COMMENT ON FUNCTION saas._require_transaction_block(text) IS
    'Internal: raises 25P01 when called outside a transaction block.';

CREATE FUNCTION saas.set_tenant(org uuid) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER  -- must see every organization to validate org, whatever the caller's tenant
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
BEGIN
    IF org IS NULL THEN
        RAISE EXCEPTION 'saas.set_tenant: the organization id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'To leave the tenant context, end the transaction (COMMIT or ROLLBACK).';
    END IF;
    PERFORM saas._require_transaction_block('saas.set_tenant');
    IF NOT EXISTS (SELECT 1 FROM saas.organizations AS o WHERE o.id = org) THEN
        RAISE EXCEPTION 'saas.set_tenant: organization % does not exist', org
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- SET LOCAL (not set_config): Citus propagates SET LOCAL to the workers
    -- that evaluate the policies (citus.propagate_set_commands = 'local').
    EXECUTE pg_catalog.format('SET LOCAL app.current_tenant_id = %L', org);
    -- A tenant switch must not carry the previous tenant's actor along.
    SET LOCAL app.current_user_id = '';
    SET LOCAL app.request_metadata = '';
    RETURN org;
END
$fn$;
COMMENT ON FUNCTION saas.set_tenant(uuid) IS
    'Sets the tenant for the current transaction only (SET LOCAL app.current_tenant_id). Must be called inside BEGIN ... COMMIT; NULL or unknown organizations are refused. Clears the actor.';

CREATE FUNCTION saas.set_actor(user_id uuid, metadata jsonb DEFAULT '{}'::jsonb) RETURNS uuid
    LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER  -- validates the user whatever the caller's privileges on users
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    tenant uuid := saas.current_tenant_id();
    active boolean;
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'saas.set_actor: the user id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM saas._require_transaction_block('saas.set_actor');
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'saas.set_actor: no tenant is set'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call saas.set_tenant(organization_id) first, in the same transaction.';
    END IF;
    IF metadata IS NOT NULL AND pg_catalog.jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'saas.set_actor: metadata must be a JSON object, not %', pg_catalog.jsonb_typeof(metadata)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT u.is_active INTO active FROM saas.users AS u
    WHERE u.organization_id = tenant AND u.id = set_actor.user_id;
    IF NOT FOUND THEN
        -- Same message whether the user is unknown or another tenant's: no
        -- existence oracle across tenants.
        RAISE EXCEPTION 'saas.set_actor: user % does not belong to the current tenant', user_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT active THEN
        RAISE EXCEPTION 'saas.set_actor: user % is deactivated', user_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Reactivate the user (is_active = true) or act as another user.';
    END IF;
    EXECUTE pg_catalog.format('SET LOCAL app.current_user_id = %L', user_id);
    EXECUTE pg_catalog.format('SET LOCAL app.request_metadata = %L',
                              COALESCE(metadata, '{}'::jsonb)::text);
    RETURN user_id;
END
$fn$;
COMMENT ON FUNCTION saas.set_actor(uuid, jsonb) IS
    'Sets the acting user and request metadata (IP, user agent, request id) for the audit trigger, for the current transaction only. The user must be an active user of the current tenant.';

CREATE FUNCTION saas._tenant_column(tbl regclass) RETURNS name
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
    SELECT CASE WHEN tbl = 'saas.organizations'::pg_catalog.regclass
                THEN 'id'::pg_catalog.name ELSE 'organization_id'::pg_catalog.name END
$fn$;
COMMENT ON FUNCTION saas._tenant_column(regclass) IS
    'Internal: the column holding the tenant id (id for organizations, organization_id elsewhere).';

CREATE FUNCTION saas.enable_tenant_isolation(tbl regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    kind "char";
    col name;
    coltype oid;
    rel regclass;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'saas.enable_tenant_isolation: the table must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = tbl;
    IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'saas.enable_tenant_isolation: % is not a table', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    col := saas._tenant_column(tbl);
    SELECT a.atttypid INTO coltype FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF coltype IS NULL THEN
        RAISE EXCEPTION 'saas.enable_tenant_isolation: table % has no column %', tbl, col
            USING ERRCODE = 'undefined_column',
                  HINT = 'Add organization_id uuid NOT NULL REFERENCES saas.organizations (id) first.';
    END IF;
    IF coltype <> 'pg_catalog.uuid'::pg_catalog.regtype THEN
        RAISE EXCEPTION 'saas.enable_tenant_isolation: column %.% is of type %, not uuid',
                        tbl, col, coltype::pg_catalog.regtype
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    -- The table and, for a partitioned table, every existing partition: a
    -- query naming a partition directly does not see the parent's policies.
    FOR rel IN SELECT tbl UNION ALL SELECT t.relid FROM pg_catalog.pg_partition_tree(tbl) AS t WHERE t.level > 0
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', rel);
        EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', rel);
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                       WHERE p.polrelid = rel AND p.polname = 'tenant_isolation') THEN
            EXECUTE pg_catalog.format(
                'CREATE POLICY tenant_isolation ON %s AS PERMISSIVE FOR ALL '
                'USING (%I = saas.current_tenant_id()) WITH CHECK (%I = saas.current_tenant_id())',
                rel, col, col);
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.enable_tenant_isolation(regclass) IS
    'Enables and forces row-level security on a table with organization_id (and its partitions) with the tenant_isolation policy. Idempotent.';

CREATE FUNCTION saas.disable_tenant_isolation(tbl regclass) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    kind "char";
    rel regclass;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'saas.disable_tenant_isolation: the table must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = tbl;
    IF kind IS NULL OR kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'saas.disable_tenant_isolation: % is not a table', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    FOR rel IN SELECT tbl UNION ALL SELECT t.relid FROM pg_catalog.pg_partition_tree(tbl) AS t WHERE t.level > 0
    LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid = rel AND p.polname = 'tenant_isolation') THEN
            EXECUTE pg_catalog.format('DROP POLICY tenant_isolation ON %s', rel);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = rel) THEN
            -- Other policies remain: turning RLS off would silently disable them too.
            RAISE NOTICE 'saas.disable_tenant_isolation: % keeps row-level security on for its other policies', rel;
        ELSE
            EXECUTE pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', rel);
            EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', rel);
        END IF;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.disable_tenant_isolation(regclass) IS
    'Removes the tenant_isolation policy (and row-level security, unless other policies remain). Idempotent.';

CREATE FUNCTION saas.grant_app_access(role_name name) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    r record;
    owner_name name;
    tbl regclass;
    fn regprocedure;
BEGIN
    IF role_name IS NULL THEN
        RAISE EXCEPTION 'saas.grant_app_access: the role must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.oid, a.rolsuper, a.rolbypassrls INTO r FROM pg_catalog.pg_roles AS a WHERE a.rolname = role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'saas.grant_app_access: role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object';
    END IF;
    IF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'saas.grant_app_access: role "%" bypasses row-level security', role_name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Superusers and BYPASSRLS roles see every tenant''s rows.',
                  HINT = 'Create a dedicated application role: CREATE ROLE app LOGIN NOSUPERUSER NOBYPASSRLS.';
    END IF;
    SELECT c.relowner::pg_catalog.regrole::name INTO owner_name
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
      AND pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE')
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'saas.grant_app_access: role "%" owns the tables (or is a member of their owner "%")',
                        role_name, owner_name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A table owner can disable row-level security, drop policies and rewrite audit logs.',
                  HINT = 'Connect the application as a separate role that owns nothing.';
    END IF;

    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA saas TO %I', role_name);
    FOR tbl IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND c.oid NOT IN ('saas.organizations'::regclass)
          AND c.relname <> 'audit_logs'
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped)
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I', tbl, role_name);
    END LOOP;
    -- Creating and deleting tenants is an administrator's job; the
    -- application reads and renames its own organization.
    EXECUTE pg_catalog.format('GRANT SELECT, UPDATE ON saas.organizations TO %I', role_name);
    -- The active-row views (security_invoker: the policies still apply).
    FOR tbl IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind = 'v'
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO %I', tbl, role_name);
    END LOOP;
    -- Audit logs: read-only for the application.  The audit trigger writes
    -- them as the table owner (like foreign-key triggers do), so the
    -- application needs no INSERT, and without it cannot forge audit rows;
    -- UPDATE and DELETE are refused to everyone by the guard trigger anyway.
    IF pg_catalog.to_regclass('saas.audit_logs') IS NOT NULL THEN
        EXECUTE pg_catalog.format('GRANT SELECT ON saas.audit_logs TO %I', role_name);
    END IF;
    FOR fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'saas'::pg_catalog.regnamespace
          AND p.proname = ANY (saas._app_functions())
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, role_name);
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION saas.grant_app_access(name) IS
    'Grants an application role (not a superuser, not BYPASSRLS, not the tables'' owner) DML on tenant tables, SELECT on audit_logs (the audit trigger writes as the owner), and EXECUTE on the helper functions.';

CREATE FUNCTION saas._app_functions() RETURNS name[]
    LANGUAGE sql IMMUTABLE
    AS $fn$
    SELECT ARRAY['current_tenant_id', 'set_tenant', 'set_actor',
                 'uuid_generate_v7', 'uuid_v7_to_timestamptz', 'uuid_v7_lower_bound',
                 'record_history', 'record_as_of', 'audit_trail',
                 'current_actor_id', 'soft_delete', 'restore']::pg_catalog.name[]
$fn$;
COMMENT ON FUNCTION saas._app_functions() IS
    'Internal: names of the functions saas.grant_app_access grants EXECUTE on.';

-- Administrative functions are not for PUBLIC.
REVOKE EXECUTE ON FUNCTION saas.enable_tenant_isolation(regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION saas.disable_tenant_isolation(regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION saas.grant_app_access(name) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION saas._require_transaction_block(text) FROM PUBLIC;

-- Every tenant table of the schema, audit_logs included, and organizations.
DO $do$
DECLARE
    tbl regclass;
BEGIN
    FOR tbl IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND (c.oid = 'saas.organizations'::pg_catalog.regclass
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = c.oid AND a.attname = 'organization_id'))
        ORDER BY c.relname
    LOOP
        PERFORM saas.enable_tenant_isolation(tbl);
    END LOOP;
END
$do$;

-- ============================================================================
-- section: soft delete (issue 6)
-- ============================================================================
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

CREATE FUNCTION saas._check_soft_deletable(tbl regclass, caller text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    missing text;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION '%: the table must not be NULL', caller USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = tbl AND c.relkind IN ('r', 'p')) THEN
        RAISE EXCEPTION '%: % is not a table', caller, tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT pg_catalog.string_agg(need, ', ' ORDER BY need) INTO missing
    FROM pg_catalog.unnest(ARRAY['id', 'organization_id', 'deleted_at', 'deleted_by_id']) AS need
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = tbl AND a.attname = need AND a.attnum > 0 AND NOT a.attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION '%: table % is not soft-deletable', caller, tbl
            USING ERRCODE = 'undefined_column',
                  DETAIL = pg_catalog.format('It lacks the column(s): %s.', missing),
                  HINT = 'Soft-deletable tables have id, organization_id, deleted_at timestamptz and deleted_by_id uuid.';
    END IF;
END
$fn$;

-- The soft-deletable tables that reference tbl through an ON DELETE CASCADE
-- foreign key, with the child column that holds the parent's id.
CREATE FUNCTION saas._soft_delete_children(tbl regclass)
    RETURNS TABLE (child regclass, child_column name)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
    SELECT con.conrelid::pg_catalog.regclass, ca.attname
    FROM pg_catalog.pg_constraint AS con
    CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(con.conkey), pg_catalog.unnest(con.confkey)) AS k(child_att, parent_att)
    JOIN pg_catalog.pg_attribute AS pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent_att
    JOIN pg_catalog.pg_attribute AS ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child_att
    WHERE con.contype = 'f' AND con.confrelid = tbl AND con.confdeltype = 'c'
      AND pa.attname = 'id'
      AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS d
                  WHERE d.attrelid = con.conrelid AND d.attname = 'deleted_at' AND NOT d.attisdropped)
    ORDER BY 1, 2
$fn$;

CREATE FUNCTION saas._soft_delete_cascade(tbl regclass, tenant uuid, ids uuid[], stamp timestamptz,
                                          actor uuid, undo boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    ch record;
    child_ids uuid[];
    total bigint := 0;
BEGIN
    FOR ch IN SELECT * FROM saas._soft_delete_children(tbl) LOOP
        IF undo THEN
            EXECUTE pg_catalog.format(
                'WITH r AS (UPDATE %s SET deleted_at = NULL, deleted_by_id = NULL
                            WHERE organization_id = $1 AND %I = ANY ($2) AND deleted_at = $3
                            RETURNING id)
                 SELECT pg_catalog.array_agg(id) FROM r', ch.child, ch.child_column)
                INTO child_ids USING tenant, ids, stamp;
        ELSE
            EXECUTE pg_catalog.format(
                'WITH r AS (UPDATE %s SET deleted_at = $3, deleted_by_id = $4
                            WHERE organization_id = $1 AND %I = ANY ($2) AND deleted_at IS NULL
                            RETURNING id)
                 SELECT pg_catalog.array_agg(id) FROM r', ch.child, ch.child_column)
                INTO child_ids USING tenant, ids, stamp, actor;
        END IF;
        IF child_ids IS NOT NULL THEN
            total := total + pg_catalog.cardinality(child_ids)
                     + saas._soft_delete_cascade(ch.child, tenant, child_ids, stamp, actor, undo);
        END IF;
    END LOOP;
    RETURN total;
END
$fn$;

CREATE FUNCTION saas._soft_delete_target(tbl regclass, row_id uuid, caller text,
                                         OUT tenant uuid, OUT deleted_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    found_rows bigint;
BEGIN
    PERFORM saas._check_soft_deletable(tbl, caller);
    IF row_id IS NULL THEN
        RAISE EXCEPTION '%: the id must not be NULL', caller USING ERRCODE = 'null_value_not_allowed';
    END IF;
    tenant := saas.current_tenant_id();
    IF tenant IS NULL THEN
        RAISE EXCEPTION '%: no tenant is set', caller
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call saas.set_tenant(organization_id) first, in the same transaction.';
    END IF;
    EXECUTE pg_catalog.format('SELECT deleted_at FROM %s WHERE organization_id = $1 AND id = $2 FOR UPDATE', tbl)
        INTO deleted_at USING tenant, row_id;
    GET DIAGNOSTICS found_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
    IF found_rows = 0 THEN
        -- The same error for an unknown id and another tenant's row.
        RAISE EXCEPTION '%: no row with id % in % for the current tenant', caller, row_id, tbl
            USING ERRCODE = 'no_data_found';
    END IF;
END
$fn$;

CREATE FUNCTION saas.soft_delete(tbl regclass, id uuid) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    target record;
    stamp timestamptz := pg_catalog.clock_timestamp();
    actor uuid := saas.current_actor_id();
BEGIN
    target := saas._soft_delete_target(tbl, id, 'saas.soft_delete');
    IF target.deleted_at IS NOT NULL THEN
        RAISE EXCEPTION 'saas.soft_delete: % % is already deleted', tbl, id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('It was deleted at %s.', target.deleted_at),
                  HINT = 'Use saas.restore() to bring it back.';
    END IF;
    EXECUTE pg_catalog.format('UPDATE %s SET deleted_at = $3, deleted_by_id = $4 WHERE organization_id = $1 AND id = $2', tbl)
        USING target.tenant, id, stamp, actor;
    RETURN 1 + saas._soft_delete_cascade(tbl, target.tenant, ARRAY[id], stamp, actor, false);
END
$fn$;
COMMENT ON FUNCTION saas.soft_delete(regclass, uuid) IS
    'Soft-deletes one row of the current tenant (deleted_at, deleted_by_id = current actor) and, through ON DELETE CASCADE foreign keys, its active soft-deletable descendants. Returns the number of rows soft-deleted.';

CREATE FUNCTION saas.restore(tbl regclass, id uuid) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    target record;
    parent record;
    parent_deleted boolean;
BEGIN
    target := saas._soft_delete_target(tbl, id, 'saas.restore');
    IF target.deleted_at IS NULL THEN
        RAISE EXCEPTION 'saas.restore: % % is not deleted', tbl, id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Restoring a row under a still-deleted parent would leave an active row
    -- that the active-row views cannot reach through its parent.
    FOR parent IN
        SELECT con.confrelid::pg_catalog.regclass AS parent_table, ca.attname AS child_column
        FROM pg_catalog.pg_constraint AS con
        CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(con.conkey), pg_catalog.unnest(con.confkey)) AS k(child_att, parent_att)
        JOIN pg_catalog.pg_attribute AS pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent_att
        JOIN pg_catalog.pg_attribute AS ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child_att
        WHERE con.contype = 'f' AND con.conrelid = tbl AND pa.attname = 'id' AND ca.attname <> 'deleted_by_id'
          AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS d
                      WHERE d.attrelid = con.confrelid AND d.attname = 'deleted_at' AND NOT d.attisdropped)
    LOOP
        EXECUTE pg_catalog.format(
            'SELECT EXISTS (SELECT 1 FROM %s AS p JOIN %s AS c ON c.organization_id = p.organization_id AND c.%I = p.id
                            WHERE c.organization_id = $1 AND c.id = $2 AND p.deleted_at IS NOT NULL)',
            parent.parent_table, tbl, parent.child_column)
            INTO parent_deleted USING target.tenant, id;
        IF parent_deleted THEN
            RAISE EXCEPTION 'saas.restore: cannot restore % %: its parent row in % (%) is deleted',
                            tbl, id, parent.parent_table, parent.child_column
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Restore the parent first; that restores what its deletion cascaded to.';
        END IF;
    END LOOP;
    EXECUTE pg_catalog.format('UPDATE %s SET deleted_at = NULL, deleted_by_id = NULL WHERE organization_id = $1 AND id = $2', tbl)
        USING target.tenant, id;
    RETURN 1 + saas._soft_delete_cascade(tbl, target.tenant, ARRAY[id], target.deleted_at, NULL, true);
END
$fn$;
COMMENT ON FUNCTION saas.restore(regclass, uuid) IS
    'Restores a soft-deleted row of the current tenant and exactly the rows its soft_delete cascaded to (same deleted_at). Returns the number of rows restored.';

CREATE FUNCTION saas.purge_soft_deleted(tbl regclass, older_than interval DEFAULT '90 days') RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
DECLARE
    purged bigint;
BEGIN
    PERFORM saas._check_soft_deletable(tbl, 'saas.purge_soft_deleted');
    IF older_than IS NULL OR older_than < '0'::interval THEN
        RAISE EXCEPTION 'saas.purge_soft_deleted: older_than must be a non-negative interval, not %',
                        COALESCE(older_than::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Plain DELETE: the audit trigger records every purged row, and ON DELETE
    -- CASCADE removes their children (audited too).
    EXECUTE pg_catalog.format('DELETE FROM %s WHERE deleted_at < pg_catalog.now() - $1', tbl) USING older_than;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END
$fn$;
COMMENT ON FUNCTION saas.purge_soft_deleted(regclass, interval) IS
    'Hard-deletes rows soft-deleted before now() - older_than (default 90 days); returns the count. Runs under the caller''s row-level security: as the application role it purges the current tenant only.';
REVOKE EXECUTE ON FUNCTION saas.purge_soft_deleted(regclass, interval) FROM PUBLIC;

-- Active rows: views that use the WHERE deleted_at IS NULL partial indexes.
-- security_invoker (PostgreSQL 15+) makes the caller's row-level security
-- apply through the view; without it the view owner's rights would.
CREATE VIEW saas.active_projects WITH (security_invoker = true) AS
    SELECT * FROM saas.projects WHERE deleted_at IS NULL;
CREATE VIEW saas.active_tasks WITH (security_invoker = true) AS
    SELECT * FROM saas.tasks WHERE deleted_at IS NULL;
CREATE VIEW saas.active_task_comments WITH (security_invoker = true) AS
    SELECT * FROM saas.task_comments WHERE deleted_at IS NULL;
CREATE VIEW saas.active_tickets WITH (security_invoker = true) AS
    SELECT * FROM saas.tickets WHERE deleted_at IS NULL;
CREATE VIEW saas.active_ticket_comments WITH (security_invoker = true) AS
    SELECT * FROM saas.ticket_comments WHERE deleted_at IS NULL;
COMMENT ON VIEW saas.active_projects IS 'Projects not soft-deleted.';
COMMENT ON VIEW saas.active_tasks IS 'Tasks not soft-deleted (a task of a deleted project is soft-deleted with it).';
COMMENT ON VIEW saas.active_task_comments IS 'Task comments not soft-deleted.';
COMMENT ON VIEW saas.active_tickets IS 'Tickets not soft-deleted.';
COMMENT ON VIEW saas.active_ticket_comments IS 'Ticket comments not soft-deleted.';

-- ============================================================================
-- section: schema lint (issue 6)
-- ============================================================================
CREATE FUNCTION saas.lint(schema_name name DEFAULT NULL)
    RETURNS TABLE (severity text, rule text, object text, detail text, fix text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
BEGIN
    IF schema_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = schema_name) THEN
        RAISE EXCEPTION 'saas.lint: schema "%" does not exist', schema_name USING ERRCODE = 'invalid_schema_name';
    END IF;

    RETURN QUERY
    WITH rels AS (
        -- rel: the schema-qualified name (regclass would drop "saas." here,
        -- since saas is on this function's search_path).
        SELECT c.oid, pg_catalog.format('%I.%I', n.nspname, c.relname) AS rel, c.relname, n.nspname, c.relkind,
               c.relrowsecurity, c.relforcerowsecurity,
               EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = c.oid
                       AND a.attname = 'organization_id' AND a.attnum > 0 AND NOT a.attisdropped) AS has_tenant,
               EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = c.oid
                       AND a.attname = 'updated_at' AND a.attnum > 0 AND NOT a.attisdropped) AS has_updated_at
        FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
          AND (schema_name IS NULL OR n.nspname = schema_name)
    ),
    -- Objects that belong to an extension are not the DBA's to drop.
    ext_members AS (
        SELECT d.objid FROM pg_catalog.pg_depend AS d
        WHERE d.deptype = 'e' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
    ),
    idx AS (
        SELECT i.indexrelid, pg_catalog.format('%I.%I', ins.nspname, ic.relname) AS idxname, ic.relname AS short_name, i.indrelid, i.indisunique, i.indisprimary,
               i.indkey::int2[] AS keys, i.indclass::oid[] AS opclasses,
               pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred,
               pg_catalog.pg_get_expr(i.indexprs, i.indrelid) AS exprs,
               ic.relam, i.indnkeyatts
        FROM pg_catalog.pg_index AS i JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
        JOIN pg_catalog.pg_namespace AS ins ON ins.oid = ic.relnamespace
        WHERE i.indrelid IN (SELECT oid FROM rels)
    ),
    -- Duplicate indexes: same table, method, key columns, operator classes,
    -- expressions and predicate; or a plain index whose key is a leading
    -- prefix of another's.  One finding per redundant index.
    dups AS (
        SELECT DISTINCT ON (a.indexrelid) a.indexrelid, a.idxname, a.short_name, a.indrelid,
               b.idxname AS other_name, a.keys = b.keys AS same_keys
        FROM idx AS a
        JOIN idx AS b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
        WHERE a.relam = b.relam
          AND a.pred IS NOT DISTINCT FROM b.pred AND a.exprs IS NOT DISTINCT FROM b.exprs
          AND NOT a.indisunique
          AND a.indrelid NOT IN (SELECT objid FROM ext_members)
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS con WHERE con.conindid = a.indexrelid)
          AND pg_catalog.cardinality(a.keys) <= pg_catalog.cardinality(b.keys)
          -- slices on both sides: indkey/indclass arrays start at 0, slices at 1
          AND a.keys[0:pg_catalog.cardinality(a.keys) - 1] = b.keys[0:pg_catalog.cardinality(a.keys) - 1]
          AND a.opclasses[0:pg_catalog.cardinality(a.keys) - 1] = b.opclasses[0:pg_catalog.cardinality(a.keys) - 1]
          -- of two identical plain indexes, report only one
          AND (a.keys <> b.keys OR b.indisunique OR a.indexrelid > b.indexrelid)
        ORDER BY a.indexrelid, b.indisunique DESC, b.indexrelid
    )
    -- 1. Foreign keys without a covering index.
    SELECT 'warning', 'fk_without_index',
           pg_catalog.format('%s.%I', r.rel, con.conname),
           pg_catalog.format('foreign key (%s) has no index whose leading columns are its columns; deletes and updates of the referenced rows scan %s',
                             cols.list, r.rel),
           pg_catalog.format('CREATE INDEX %I ON %s (%s);',
                             pg_catalog.left('idx_' || r.relname || '_' || pg_catalog.replace(cols.names, ', ', '_'), 63),
                             r.rel, cols.list)
    FROM rels AS r
    JOIN pg_catalog.pg_constraint AS con ON con.conrelid = r.oid AND con.contype = 'f'
    CROSS JOIN LATERAL (
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord) AS list,
               pg_catalog.string_agg(a.attname, ', ' ORDER BY k.ord) AS names
        FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY AS k(att, ord)
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = r.oid AND a.attnum = k.att) AS cols
    WHERE NOT EXISTS (
        SELECT 1 FROM idx AS i
        WHERE i.indrelid = r.oid AND i.pred IS NULL
          AND (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(i.keys[0:pg_catalog.cardinality(con.conkey) - 1]) AS x)
              = (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(con.conkey) AS x))

    UNION ALL
    -- 2. Tables that reference tenant data but have no organization_id.
    SELECT 'error', 'tenant_table_without_organization_id', r.rel,
           pg_catalog.format('%s references tenant-scoped %s but has no organization_id column, so row-level security and Citus distribution cannot scope it',
                             r.rel, (SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%I.%I', fn.nspname, fc.relname), ', ')
                                     FROM pg_catalog.pg_constraint AS con
                                     JOIN pg_catalog.pg_class AS fc ON fc.oid = con.confrelid
                                     JOIN pg_catalog.pg_namespace AS fn ON fn.oid = fc.relnamespace
                                     WHERE con.conrelid = r.oid AND con.contype = 'f')),
           pg_catalog.format('ALTER TABLE %s ADD COLUMN organization_id uuid REFERENCES saas.organizations (id); -- then backfill, SET NOT NULL, and include it in the keys', r.rel)
    FROM rels AS r
    WHERE NOT r.has_tenant AND r.oid <> 'saas.organizations'::pg_catalog.regclass
      AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS con
                  WHERE con.conrelid = r.oid AND con.contype = 'f'
                    AND (con.confrelid = 'saas.organizations'::pg_catalog.regclass
                         OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = con.confrelid
                                    AND a.attname = 'organization_id' AND NOT a.attisdropped)))

    UNION ALL
    -- 3. Tenant tables without RLS enabled and forced, or without the policy.
    SELECT 'error', 'tenant_table_without_rls', r.rel,
           pg_catalog.format('row-level security is %s%s%s',
                             CASE WHEN r.relrowsecurity THEN 'enabled' ELSE 'disabled' END,
                             CASE WHEN r.relforcerowsecurity THEN ', forced' ELSE ', not forced' END,
                             CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = r.oid AND p.polname = 'tenant_isolation')
                                  THEN '' ELSE ', and there is no tenant_isolation policy' END),
           pg_catalog.format('SELECT saas.enable_tenant_isolation(%L);', r.rel)
    FROM rels AS r
    WHERE (r.has_tenant OR r.oid = 'saas.organizations'::pg_catalog.regclass)
      AND NOT (r.relrowsecurity AND r.relforcerowsecurity
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = r.oid AND p.polname = 'tenant_isolation'))

    UNION ALL
    -- 4. PK / UNIQUE of a tenant table without organization_id (Citus rule).
    SELECT 'warning', 'unique_without_organization_id',
           pg_catalog.format('%s.%I', r.rel, ic.relname),
           pg_catalog.format('%s does not include organization_id: uniqueness cannot be enforced once the table is distributed by tenant',
                             CASE WHEN i.indisprimary THEN 'primary key' ELSE 'unique index' END),
           CASE WHEN con.oid IS NOT NULL THEN
               pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I %s (organization_id, %s);',
                                 r.rel, con.conname, con.conname,
                                 CASE WHEN i.indisprimary THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, cols.list)
           ELSE
               pg_catalog.format('DROP INDEX %s; CREATE UNIQUE INDEX %I ON %s (organization_id, %s);',
                                 i.idxname, ic.relname, r.rel, cols.list)
           END
    FROM rels AS r
    JOIN idx AS i ON i.indrelid = r.oid AND i.indisunique
    JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
    LEFT JOIN pg_catalog.pg_constraint AS con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
    CROSS JOIN LATERAL (
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord) AS list
        FROM pg_catalog.unnest(i.keys) WITH ORDINALITY AS k(att, ord)
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = r.oid AND a.attnum = k.att) AS cols
    WHERE r.has_tenant
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = r.oid
                      AND a.attname = 'organization_id' AND a.attnum = ANY (i.keys))

    UNION ALL
    -- 5a. Tables with updated_at but no updated_at trigger.
    SELECT 'warning', 'missing_updated_at_trigger', r.rel,
           'the table has an updated_at column but no saas.set_updated_at trigger keeps it current',
           pg_catalog.format('SELECT saas.enable_updated_at(%L);', r.rel)
    FROM rels AS r
    WHERE r.has_updated_at
      AND pg_catalog.to_regproc('saas.set_updated_at') IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger AS t JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
                      WHERE t.tgrelid = r.oid AND p.proname = 'set_updated_at'
                        AND p.pronamespace = 'saas'::pg_catalog.regnamespace)

    UNION ALL
    -- 5b. Tenant tables that are not audited.
    SELECT 'warning', 'missing_audit', r.rel,
           'changes to this tenant table are not recorded in saas.audit_logs',
           pg_catalog.format('SELECT saas.enable_audit(%L);', r.rel)
    FROM rels AS r
    WHERE (r.has_tenant OR r.oid = 'saas.organizations'::pg_catalog.regclass)
      AND r.relname <> 'audit_logs' AND r.nspname || '.' || r.relname <> 'saas.audit_logs'
      AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc AS p WHERE p.proname = 'enable_audit'
                  AND p.pronamespace = 'saas'::pg_catalog.regnamespace)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger AS t JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
                      WHERE t.tgrelid = r.oid AND p.proname LIKE 'audit%'
                        AND p.pronamespace = 'saas'::pg_catalog.regnamespace)

    UNION ALL
    -- 6. timestamp without time zone.
    SELECT 'warning', 'timestamp_without_time_zone',
           pg_catalog.format('%s.%I', r.rel, a.attname),
           'timestamp without time zone stores wall-clock time with no zone; use timestamptz (UTC internally)',
           pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE timestamptz USING %I AT TIME ZONE ''UTC'';',
                             r.rel, a.attname, a.attname)
    FROM rels AS r
    JOIN pg_catalog.pg_attribute AS a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE a.atttypid = 'pg_catalog.timestamp'::pg_catalog.regtype

    UNION ALL
    -- 7. Unused indexes (never scanned since the statistics were last reset),
    -- on tables that have been read at all; constraint indexes and
    -- extension-owned indexes are not candidates.
    SELECT 'info', 'unused_index',
           pg_catalog.format('%s.%I', r.rel, s.indexrelname),
           pg_catalog.format('idx_scan = 0 since %s while the table was read %s times; it costs writes and space (%s)',
                             COALESCE((SELECT st.stats_reset::text FROM pg_catalog.pg_stat_database AS st
                                       WHERE st.datname = pg_catalog.current_database()), 'the statistics were created'),
                             COALESCE(ts.seq_scan, 0) + COALESCE(ts.idx_scan, 0),
                             pg_catalog.pg_size_pretty(pg_catalog.pg_relation_size(s.indexrelid))),
           pg_catalog.format('DROP INDEX %s;', i.idxname)
    FROM rels AS r
    JOIN pg_catalog.pg_stat_user_indexes AS s ON s.relid = r.oid
    JOIN pg_catalog.pg_stat_user_tables AS ts ON ts.relid = r.oid
    JOIN idx AS i ON i.indexrelid = s.indexrelid
    WHERE s.idx_scan = 0 AND NOT i.indisunique
      AND COALESCE(ts.seq_scan, 0) + COALESCE(ts.idx_scan, 0) > 0
      AND r.oid NOT IN (SELECT objid FROM ext_members)
      AND s.indexrelid NOT IN (SELECT indexrelid FROM dups)  -- reported as duplicates instead
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS con WHERE con.conindid = s.indexrelid)
      -- An index covering a foreign key serves the checks of parent deletes,
      -- however rarely those run; dropping it would be rule 1's finding.
      AND NOT EXISTS (
          SELECT 1 FROM pg_catalog.pg_constraint AS con
          WHERE con.conrelid = r.oid AND con.contype = 'f'
            AND (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(i.keys[0:pg_catalog.cardinality(con.conkey) - 1]) AS x)
                = (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(con.conkey) AS x))

    UNION ALL
    -- 8. Duplicate indexes.
    SELECT 'warning', 'duplicate_index',
           pg_catalog.format('%s.%I', r.rel, d.short_name),
           pg_catalog.format('%s %s %s', d.idxname,
                             CASE WHEN d.same_keys THEN 'duplicates' ELSE 'is a leading prefix of' END, d.other_name),
           pg_catalog.format('DROP INDEX %s;', d.idxname)
    FROM rels AS r JOIN dups AS d ON d.indrelid = r.oid

    UNION ALL
    -- 9. SECURITY DEFINER functions without a pinned search_path.
    SELECT 'error', 'security_definer_without_search_path',
           pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)),
           'a SECURITY DEFINER function without SET search_path resolves names through the caller''s search_path, so a caller can hijack it with objects of the same name',
           pg_catalog.format('ALTER FUNCTION %I.%I(%s) SET search_path = pg_catalog, pg_temp;',
                             n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
    FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    WHERE p.prosecdef
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
      AND (schema_name IS NULL OR n.nspname = schema_name)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) AS cfg WHERE cfg LIKE 'search\_path=%')

    ORDER BY 1, 2, 3;
END
$fn$;
COMMENT ON FUNCTION saas.lint(name) IS
    'Checks a schema (or every user schema) against the multi-tenant design rules. One row per finding: severity (error, warning, info), rule, object, detail, and a fix as SQL.';

-- ============================================================================
-- section: test support (issue 9)
-- ============================================================================
-- Replaces the values of volatile keys (timestamps) with "<volatile>" so that
-- expected files stay stable; NULLs stay NULL (a column being cleared or
-- still unset is not volatile information).
CREATE FUNCTION saas._mask_volatile(doc jsonb, volatile_keys text[]) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
    SELECT CASE WHEN doc IS NULL THEN NULL
                WHEN pg_catalog.jsonb_typeof(doc) <> 'object' THEN doc
                ELSE COALESCE(
                    (SELECT pg_catalog.jsonb_object_agg(
                                e.key,
                                CASE WHEN e.key = ANY (volatile_keys) AND e.value <> 'null'::jsonb
                                     THEN '"<volatile>"'::jsonb ELSE e.value END)
                     FROM pg_catalog.jsonb_each(doc) AS e),
                    '{}'::jsonb)
           END
$fn$;

CREATE FUNCTION saas.audit_trail(since timestamptz DEFAULT NULL,
                                 volatile_keys text[] DEFAULT ARRAY['created_at', 'updated_at', 'deleted_at'])
    RETURNS TABLE (table_name text, record_id uuid, action text, changed_columns text[],
                   old_values jsonb, new_values jsonb)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
    SELECT a.table_name, a.record_id, a.action, a.changed_columns,
           saas._mask_volatile(a.old_values, volatile_keys),
           saas._mask_volatile(a.new_values, volatile_keys)
    FROM saas.audit_logs AS a
    WHERE since IS NULL OR a.created_at >= since
    -- Within one record, audit ids (UUIDv7) are in change order.
    ORDER BY a.table_name, a.record_id NULLS LAST, a.id
$fn$;
COMMENT ON FUNCTION saas.audit_trail(timestamptz, text[]) IS
    'Audit rows without volatile columns (id, created_at, transaction_id, user_id, metadata) and with timestamp values masked, in a deterministic order: for assertions in regression tests. Row-level security applies.';
