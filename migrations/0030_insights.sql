-- Issue 16: Copilot impact cohorts, seat utilisation and cost, rolling DORA, team scope
-- (docs/metrics.md, "Copilot impact cohorts", "Seat utilisation", "Rolling DORA",
-- "Teams").

-- A pull request author's GitHub user id: authors are matched to Copilot users and team
-- members by id (a rename keeps it), by login only where it is NULL (collected before
-- this migration; the next pass over the pull request fills it).
ALTER TABLE pull_requests ADD COLUMN author_id bigint;

-- Team rows (scope_type 'team', scope 'org/team-slug') in the weekly metrics and the
-- daily Copilot figures.
ALTER TABLE dora_metrics DROP CONSTRAINT dora_metrics_scope_type_check,
    ADD CONSTRAINT dora_metrics_scope_type_check CHECK (scope_type IN ('enterprise', 'organization', 'team', 'repository'));
ALTER TABLE velocity_metrics DROP CONSTRAINT velocity_metrics_scope_type_check,
    ADD CONSTRAINT velocity_metrics_scope_type_check CHECK (scope_type IN ('enterprise', 'organization', 'team', 'repository'));
ALTER TABLE copilot_daily_metrics DROP CONSTRAINT copilot_daily_metrics_scope_type_check,
    ADD CONSTRAINT copilot_daily_metrics_scope_type_check CHECK (scope_type IN ('enterprise', 'organization', 'team'));

-- Teams of the configured organizations, as the daily listing (collect_copilot) shows
-- them. The id is the key: a renamed team keeps it and changes its slug.
CREATE TABLE teams (
    enterprise_id text    NOT NULL,
    org           text    NOT NULL,
    team_id       bigint  NOT NULL,
    slug          text    NOT NULL,
    name          text    NOT NULL DEFAULT '',
    first_listed  date    NOT NULL,
    last_listed   date    NOT NULL,
    -- Set when a complete listing of the org no longer shows the team (deleted, or no
    -- longer configured); cleared when it is listed again.
    missing_since date,
    PRIMARY KEY (enterprise_id, org, team_id)
);

-- Membership periods. since is the first listing that showed the member, NULL when it
-- was the team's first listing (earlier weeks count them too: nobody knows when they
-- joined); until is the first listing that no longer did (exclusive), NULL while a
-- member. Someone who leaves and comes back has two periods.
CREATE TABLE team_members (
    id            bigserial PRIMARY KEY,
    enterprise_id text    NOT NULL,
    org           text    NOT NULL,
    team_id       bigint  NOT NULL,
    user_id       bigint  NOT NULL,
    login         text    NOT NULL,
    since         date,
    until         date,
    CHECK (until IS NULL OR since IS NULL OR until >= since)
);
CREATE UNIQUE INDEX team_members_open ON team_members (enterprise_id, org, team_id, user_id) WHERE until IS NULL;
CREATE INDEX team_members_team ON team_members (enterprise_id, org, team_id);

-- The repositories each team may access, with its permission (admin, maintain, push,
-- triage, pull), from the latest listing; kept only with team_repositories
-- "permissions". Teams with admin or maintain own a repository for team DORA rows.
CREATE TABLE team_repositories (
    enterprise_id  text   NOT NULL,
    org            text   NOT NULL,
    team_id        bigint NOT NULL,
    repo_full_name text   NOT NULL,
    permission     text   NOT NULL,
    PRIMARY KEY (enterprise_id, org, team_id, repo_full_name)
);

-- The date of each org's latest complete team listing: teams are listed once per UTC
-- date.
CREATE TABLE team_listings (
    enterprise_id text        NOT NULL,
    org           text        NOT NULL,
    listed_on     date        NOT NULL,
    teams         integer     NOT NULL,
    listed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, org)
);

-- Copilot impact cohorts per scope, ISO week and cohort (calculate_velocity). A
-- suppressed cohort (fewer distinct authors than min_authors) keeps every figure NULL:
-- they are never stored. Figures are also NULL for copilot_active/inactive in a week
-- without per-user reports (copilot_report_days = 0).
CREATE TABLE copilot_impact_metrics (
    enterprise_id           text        NOT NULL,
    scope_type              text        NOT NULL CHECK (scope_type IN ('enterprise', 'organization', 'team')),
    scope                   text        NOT NULL,
    week_start              date        NOT NULL,
    cohort                  text        NOT NULL CHECK (cohort IN ('copilot_active', 'copilot_inactive', 'copilot_agent')),
    suppressed              boolean     NOT NULL,
    authors                 integer,
    prs_merged              integer,
    pr_cycle_time_p50_hours numeric,
    pr_cycle_time_n         integer,
    review_time_p50_hours   numeric,
    review_time_n           integer,
    pr_size_p50             numeric,
    pr_size_n               integer,
    prs_reviewed_by_copilot integer,
    prs_reverted            integer,
    copilot_report_days     integer     NOT NULL,
    min_authors             integer     NOT NULL,
    metric_version          integer     NOT NULL,
    computed_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, week_start, cohort),
    CHECK (NOT suppressed OR authors IS NULL)
);

-- DORA over trailing windows (calculate_dora): the row of week_start and window_weeks
-- covers the window_weeks ISO weeks ending with week_start's.
CREATE TABLE dora_rolling_metrics (
    enterprise_id              text        NOT NULL,
    scope_type                 text        NOT NULL CHECK (scope_type IN ('enterprise', 'organization', 'team', 'repository')),
    scope                      text        NOT NULL,
    week_start                 date        NOT NULL,
    window_weeks               integer     NOT NULL CHECK (window_weeks BETWEEN 2 AND 52),
    window_start               date        NOT NULL,
    deployments                integer     NOT NULL,
    deployment_days            integer     NOT NULL,
    lead_time_p50_hours        numeric,
    lead_time_p90_hours        numeric,
    lead_time_n                integer     NOT NULL,
    failed_deployments         integer     NOT NULL,
    change_failure_rate        numeric,
    recovery_time_p50_hours    numeric,
    recovery_n                 integer     NOT NULL,
    rework_deployments         integer     NOT NULL,
    rework_rate                numeric,
    failed_attempts            integer     NOT NULL,
    unrecovered_failures       integer     NOT NULL,
    deployment_frequency_level text,
    lead_time_level            text,
    change_failure_level       text,
    recovery_level             text,
    performance_level          text,
    repos_elite                integer     NOT NULL,
    repos_high                 integer     NOT NULL,
    repos_medium               integer     NOT NULL,
    repos_low                  integer     NOT NULL,
    thresholds_version         text        NOT NULL,
    deployment_signal          text        NOT NULL,
    metric_version             integer     NOT NULL,
    computed_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, week_start, window_weeks)
);

-- Seats per scope and day with a seat snapshot (calculate_copilot), priced with
-- COPILOT_SEAT_PRICES as of the computation. Kept after the seat listings are pruned,
-- like the daily Copilot figures.
CREATE TABLE copilot_seat_utilisation (
    enterprise_id              text        NOT NULL,
    scope_type                 text        NOT NULL CHECK (scope_type IN ('enterprise', 'organization')),
    scope                      text        NOT NULL,
    day                        date        NOT NULL,
    seats_total                integer     NOT NULL,
    seats_active_7d            integer     NOT NULL,
    seats_active_30d           integer     NOT NULL,
    seats_idle_30d             integer     NOT NULL,
    seats_never_used           integer     NOT NULL,
    seats_pending_cancellation integer     NOT NULL,
    seats_business             integer     NOT NULL,
    seats_enterprise           integer     NOT NULL,
    seats_other_plan           integer     NOT NULL,
    currency                   text        NOT NULL,
    monthly_cost               numeric,
    idle_monthly_cost          numeric,
    unpriced_seats             integer     NOT NULL,
    metric_version             integer     NOT NULL,
    computed_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, scope_type, scope, day)
);

-- The idle seats (no activity in 30 days, never-used included) of each scope's newest
-- seat snapshot (calculate_copilot); a scope's rows are replaced when a newer snapshot
-- is computed. Personal data: exported only with
-- EXPORT_USER_LEVEL on.
CREATE TABLE copilot_idle_seats (
    enterprise_id        text        NOT NULL,
    scope_type           text        NOT NULL CHECK (scope_type IN ('enterprise', 'organization')),
    scope                text        NOT NULL,
    seat_key             text        NOT NULL,   -- id:<assignee id> or unassigned:<n>
    snapshot_date        date        NOT NULL,
    assignee_id          bigint,
    assignee_login       text        NOT NULL,
    organization         text        NOT NULL,   -- granting organizations, comma-separated
    assigning_team       text        NOT NULL,
    plan_type            text        NOT NULL,
    created_at           timestamptz,
    last_activity_at     timestamptz,
    last_activity_editor text        NOT NULL,
    days_idle            integer     NOT NULL,
    never_used           boolean     NOT NULL,
    pending_cancellation date,
    metric_version       integer     NOT NULL,
    PRIMARY KEY (enterprise_id, scope_type, scope, seat_key)
);
