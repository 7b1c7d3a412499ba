-- Copilot usage-metrics reports, per-user metrics, breakdowns and seat snapshots.

-- What we asked GitHub for, per report and day: 'ok' with shard and record counts, or
-- 'no_report' when the API answered 204. fetched_at is when the answer last changed (a
-- re-fetch that finds the same answer rewrites nothing). A 204 never replaces an 'ok'.
CREATE TABLE copilot_report_fetches (
    enterprise_id text        NOT NULL,
    scope_type    text        NOT NULL CHECK (scope_type IN ('enterprise', 'organization')),
    scope         text        NOT NULL,
    report        text        NOT NULL CHECK (report IN ('aggregate', 'users', 'user_teams')),
    day           date        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('ok', 'no_report')),
    shards        integer     NOT NULL DEFAULT 0,
    records       integer     NOT NULL DEFAULT 0,   -- records stored (undecodable ones left out)
    fetched_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, report, day)
);

-- Every record of every report as GitHub sent it (the schema grows every few months;
-- new columns can be back-filled from here without calling GitHub). record_key is ''
-- for the aggregate report, the user id for the users report and '<user id>:<team id>'
-- for the user-teams report.
CREATE TABLE copilot_raw_records (
    enterprise_id text        NOT NULL,
    scope_type    text        NOT NULL,
    scope         text        NOT NULL,
    report        text        NOT NULL,
    day           date        NOT NULL,
    record_key    text        NOT NULL,
    payload       jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, report, day, record_key)
);

CREATE TABLE copilot_daily_metrics (
    enterprise_id                 text        NOT NULL,
    scope_type                    text        NOT NULL CHECK (scope_type IN ('enterprise', 'organization')),
    scope                         text        NOT NULL,
    day                           date        NOT NULL,
    daily_active_users            bigint,
    weekly_active_users           bigint,
    monthly_active_users          bigint,
    monthly_active_chat_users     bigint,
    monthly_active_agent_users    bigint,
    user_initiated_interactions   bigint,
    code_generations              bigint,
    code_acceptances              bigint,
    completion_generations        bigint,    -- code_completion feature only
    completion_acceptances        bigint,    -- code_completion feature only
    completion_acceptance_rate    numeric,   -- completion_acceptances / completion_generations, 0..1
    loc_suggested_to_add          bigint,
    loc_suggested_to_delete       bigint,
    loc_added                     bigint,
    loc_deleted                   bigint,
    chat_interactions             bigint,    -- sum of chat_panel_* feature interactions
    agent_interactions            bigint,    -- agent_edit feature interactions
    pr_total_created              bigint,
    pr_total_reviewed             bigint,
    pr_total_merged               bigint,
    pr_median_minutes_to_merge    numeric,
    pr_total_suggestions          bigint,
    pr_total_applied_suggestions  bigint,
    pr_total_created_by_copilot   bigint,
    pr_total_reviewed_by_copilot  bigint,
    seats_total                   bigint,    -- from the seat snapshot of that day
    seats_active_30d              bigint,
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, day)
);

CREATE TABLE copilot_user_metrics (
    enterprise_id                 text        NOT NULL,
    scope_type                    text        NOT NULL,
    scope                         text        NOT NULL,
    day                           date        NOT NULL,
    user_id                       bigint      NOT NULL,
    user_login                    text        NOT NULL,
    user_initiated_interactions   bigint,
    code_generations              bigint,
    code_acceptances              bigint,
    loc_suggested_to_add          bigint,
    loc_suggested_to_delete       bigint,
    loc_added                     bigint,
    loc_deleted                   bigint,
    used_agent                    boolean     NOT NULL DEFAULT false,
    used_chat                     boolean     NOT NULL DEFAULT false,
    used_cli                      boolean     NOT NULL DEFAULT false,
    used_code_review_active       boolean     NOT NULL DEFAULT false,
    used_code_review_passive      boolean     NOT NULL DEFAULT false,
    used_coding_agent             boolean     NOT NULL DEFAULT false,
    ai_credits_used               numeric,
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, day, user_id)
);

CREATE TABLE copilot_breakdowns (
    enterprise_id                 text        NOT NULL,
    scope_type                    text        NOT NULL,
    scope                         text        NOT NULL,
    day                           date        NOT NULL,
    dimension                     text        NOT NULL,   -- ide, feature, language_feature, language_model, model_feature
    key1                          text        NOT NULL,
    key2                          text        NOT NULL DEFAULT '',
    user_initiated_interactions   bigint,
    code_generations              bigint,
    code_acceptances              bigint,
    loc_suggested_to_add          bigint,
    loc_suggested_to_delete       bigint,
    loc_added                     bigint,
    loc_deleted                   bigint,
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, day, dimension, key1, key2)
);

-- A daily snapshot of the seats listing, so the seats that existed on any past day can be
-- counted. The enterprise listing is de-duplicated by assignee id (it repeats a user once
-- per granting org). seat_key is the assignee id, or 'unassigned:<n>' (n = 1, 2, ... in
-- listing order) for a seat whose assignee GitHub sent as null.
CREATE TABLE copilot_seats (
    enterprise_id            text        NOT NULL,
    scope_type               text        NOT NULL,
    scope                    text        NOT NULL,
    snapshot_date            date        NOT NULL,
    seat_key                 text        NOT NULL,
    assignee_id              bigint,
    assignee_login           text,
    assignee_type            text,
    organization             text,
    assigning_team           text,
    plan_type                text,
    created_at               timestamptz,
    pending_cancellation     date,
    last_activity_at         timestamptz,
    last_activity_editor     text,
    last_authenticated_at    timestamptz,
    seat_updated_at          timestamptz,   -- the seat's updated_at as GitHub sent it
    PRIMARY KEY (enterprise_id, scope_type, scope, snapshot_date, seat_key)
);

-- One row per seat snapshot (also when the listing is empty): the seat figures of that
-- date, which copilot_daily_metrics.seats_total / seats_active_30d of the same day copy.
-- seats_active_30d counts seats whose last_activity_at falls on snapshot_date or the 29
-- days before it (metrics.SeatCounts).
CREATE TABLE copilot_seat_snapshots (
    enterprise_id       text        NOT NULL,
    scope_type          text        NOT NULL CHECK (scope_type IN ('enterprise', 'organization')),
    scope               text        NOT NULL,
    snapshot_date       date        NOT NULL,
    seats_total         bigint      NOT NULL,   -- after de-duplication
    seats_active_30d    bigint      NOT NULL,
    seats_listed        bigint      NOT NULL,   -- as listed, repeats included
    github_total_seats  bigint      NOT NULL,   -- GitHub's total_seats
    taken_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, snapshot_date)
);

-- The user-teams report (optional, Enterprise.CopilotUserTeams): which team each Copilot
-- user belonged to that day, for team-level slices of copilot_user_metrics. GitHub leaves
-- out teams with fewer than five seated users.
CREATE TABLE copilot_user_teams (
    enterprise_id text        NOT NULL,
    scope_type    text        NOT NULL CHECK (scope_type IN ('enterprise', 'organization')),
    scope         text        NOT NULL,
    day           date        NOT NULL,
    user_id       bigint      NOT NULL,
    team_id       bigint      NOT NULL,
    user_login    text        NOT NULL,
    team_slug     text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, day, user_id, team_id)
);
