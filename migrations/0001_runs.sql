-- Runs, the per-stage-call audit trail and the orchestrator's step state.

CREATE TABLE collection_runs (
    id            bigserial PRIMARY KEY,
    trigger       text        NOT NULL CHECK (trigger IN ('timer', 'manual')),
    run_date      date        NOT NULL,               -- the UTC date the run is for
    status        text        NOT NULL DEFAULT 'running'
                              CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    records       bigint      NOT NULL DEFAULT 0,
    api_calls     bigint      NOT NULL DEFAULT 0,
    error_summary text,
    warnings      jsonb       NOT NULL DEFAULT '[]'
);
-- One timer run per UTC date: a second timer invocation resumes it.
CREATE UNIQUE INDEX collection_runs_one_timer_run_per_date
    ON collection_runs (run_date) WHERE trigger = 'timer';
CREATE INDEX collection_runs_started ON collection_runs (started_at DESC);

-- One row per stage call (one HTTP request to /api/<stage>).
CREATE TABLE stage_calls (
    id                    bigserial PRIMARY KEY,
    run_id                bigint      NOT NULL REFERENCES collection_runs (id),
    stage                 text        NOT NULL,
    enterprise_id         text        NOT NULL DEFAULT '',  -- '' = all enterprises
    shard                 integer     NOT NULL DEFAULT 0,
    attempt               integer     NOT NULL DEFAULT 1,
    invocation_id         text        NOT NULL DEFAULT '',
    status                text        NOT NULL DEFAULT 'running'
                                      CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'skipped')),
    done                  boolean     NOT NULL DEFAULT false,
    cursor_in             text,
    cursor_out            text,
    started_at            timestamptz NOT NULL DEFAULT now(),
    finished_at           timestamptz,
    duration_ms           bigint,
    records               bigint      NOT NULL DEFAULT 0,
    api_calls             bigint      NOT NULL DEFAULT 0,
    not_modified          bigint      NOT NULL DEFAULT 0,
    retries               bigint      NOT NULL DEFAULT 0,
    waits                 bigint      NOT NULL DEFAULT 0,
    rate_limit_low        integer,     -- lowest x-ratelimit-remaining seen during the call
    error                 text,
    warnings              jsonb       NOT NULL DEFAULT '[]'
);
CREATE INDEX stage_calls_run ON stage_calls (run_id, id);

-- The orchestrator's plan state: one row per step of a run, so a killed orchestrator
-- resumes where it stopped (finished steps are not redone; a step continues from its cursor).
CREATE TABLE run_steps (
    run_id        bigint      NOT NULL REFERENCES collection_runs (id),
    stage         text        NOT NULL,
    enterprise_id text        NOT NULL DEFAULT '',
    shard         integer     NOT NULL DEFAULT 0,
    status        text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'running', 'succeeded', 'partial', 'failed', 'skipped')),
    cursor        text,
    attempts      integer     NOT NULL DEFAULT 0,
    calls         integer     NOT NULL DEFAULT 0,
    records       bigint      NOT NULL DEFAULT 0,
    api_calls     bigint      NOT NULL DEFAULT 0,
    error         text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    seq           bigserial,   -- creation order, for display
    PRIMARY KEY (run_id, stage, enterprise_id, shard)
);
