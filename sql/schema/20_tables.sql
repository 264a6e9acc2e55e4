-- Tables: the tenant root (organizations) and every tenant table, with their
-- constraints, indexes and comments.  Conventions (docs/schema.md):
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

-- The tables are the DBA's (95_ownership.sql), so DROP EXTENSION ... CASCADE
-- leaves them and their rows behind.  Creating the extension again over them
-- is refused here, before anything is created, rather than half-way through.
DO $do$
DECLARE
    existing text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('saas.%I', c.relname), ', ' ORDER BY c.relname) INTO existing
      FROM pg_catalog.pg_class AS c
     WHERE c.relnamespace = 'saas'::pg_catalog.regnamespace
       AND c.relname IN ('organizations', 'users', 'projects', 'tasks', 'task_comments', 'tags', 'task_tags',
                         'ticket_categories', 'tickets', 'ticket_comments', 'ticket_tags', 'audit_logs');
    IF existing IS NOT NULL THEN
        RAISE EXCEPTION 'schema saas already holds tables of saas_schema: %', existing
            USING ERRCODE = 'duplicate_table',
                  DETAIL = 'DROP EXTENSION saas_schema CASCADE keeps the tables and their rows; CREATE EXTENSION creates its own.',
                  HINT = 'Move the old tables out of the way first (ALTER TABLE ... SET SCHEMA, or rename schema saas), create the extension, then copy the rows over.';
    END IF;
END
$do$;

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
    number           integer            NOT NULL,
    CONSTRAINT pk_tickets PRIMARY KEY (organization_id, id),
    CONSTRAINT uq_tickets_organization_id_number UNIQUE (organization_id, number),
    CONSTRAINT chk_tickets_number_positive CHECK (number > 0),
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
COMMENT ON COLUMN saas.tickets.number IS 'Per-organization ticket number (#1, #2, ...), assigned on INSERT when not given.';

-- Ticket numbers.  Tickets get a per-organization number (#1, #2, ...), the handle people use
-- in conversation and e-mail subjects.  Assigned on INSERT when not given:
-- one past the organization's highest, under a lock on the organization's
-- row (SELECT ... FOR NO KEY UPDATE), so concurrent inserts of one tenant
-- never collide and other tenants are not blocked.  Soft-deleted tickets keep
-- their numbers.
--
-- Why that lock: only a role that can see the organization's row (its
-- tenant is set, or it bypasses row-level security) and holds UPDATE on
-- saas.organizations can take it, where an advisory lock on a guessable key
-- (0.4.0) could be taken by any role that can connect, stalling the tenant's
-- ticket inserts.  NO KEY UPDATE does not conflict with the FOR KEY SHARE
-- locks of foreign-key checks, so inserts into other tenant tables go on; it
-- does wait for (and block) UPDATEs of that organization's row.  The
-- inserting role needs UPDATE on saas.organizations (saas.grant_app_access
-- grants it).  When the row is not visible to the inserting role, no lock is
-- taken: under the shipped policies that insert is refused anyway, and under
-- policies of your own a collision ends in a unique violation on
-- (organization_id, number), never in a duplicate number.
--
-- On Citus (saas.distribute()) the trigger runs on the shards of tickets,
-- where organizations is a reference table: a row lock on it would be a
-- distributed lock taken from a shard, so there the per-organization
-- advisory lock of 0.4.0 remains (docs/citus.md, docs/security.md).
CREATE FUNCTION saas.assign_ticket_number() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, saas, pg_temp
    AS $fn$
BEGIN
    IF NEW.number IS NULL THEN
        IF TG_RELID = 'saas.tickets'::pg_catalog.regclass
           OR EXISTS (SELECT FROM pg_catalog.pg_partition_ancestors(TG_RELID) AS a
                       WHERE a.relid = 'saas.tickets'::pg_catalog.regclass) THEN
            IF NOT pg_catalog.has_any_column_privilege('saas.organizations'::pg_catalog.regclass, 'UPDATE') THEN
                RAISE EXCEPTION 'saas.assign_ticket_number: role "%" may not lock rows of saas.organizations', current_user
                    USING ERRCODE = 'insufficient_privilege',
                          DETAIL = 'A ticket''s number is assigned under a lock on its organization''s row (SELECT ... FOR NO KEY UPDATE), which needs UPDATE privilege on saas.organizations.',
                          HINT = 'saas.grant_app_access(role) grants what inserting tickets needs; or give the ticket a number yourself.';
            END IF;
            PERFORM FROM saas.organizations AS o WHERE o.id = NEW.organization_id FOR NO KEY UPDATE;
        ELSE
            -- A Citus shard of saas.tickets (see above).
            PERFORM pg_catalog.pg_advisory_xact_lock(
                pg_catalog.hashtextextended('saas.tickets.number:' || NEW.organization_id::text, 0));
        END IF;
        SELECT COALESCE(pg_catalog.max(t.number), 0) + 1 INTO NEW.number
        FROM saas.tickets AS t WHERE t.organization_id = NEW.organization_id;
    END IF;
    RETURN NEW;
END
$fn$;
COMMENT ON FUNCTION saas.assign_ticket_number() IS
    'BEFORE INSERT trigger on saas.tickets: assigns the next per-organization ticket number when none is given.';
CREATE TRIGGER trg_tickets_number BEFORE INSERT ON saas.tickets
    FOR EACH ROW EXECUTE FUNCTION saas.assign_ticket_number();

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
