-- Repository activity: the inputs of the DORA and velocity metrics.

CREATE TABLE repositories (
    enterprise_id  text        NOT NULL,
    id             bigint      NOT NULL,
    org            text        NOT NULL,
    name           text        NOT NULL,
    full_name      text        NOT NULL,
    default_branch text        NOT NULL,
    archived       boolean     NOT NULL DEFAULT false,
    fork           boolean     NOT NULL DEFAULT false,
    private        boolean     NOT NULL DEFAULT false,
    created_at     timestamptz,
    pushed_at      timestamptz,
    updated_at     timestamptz,
    -- Set when a complete org listing no longer shows the repository or GitHub answers
    -- 404 for it (deleted, transferred away, access lost); cleared when it is listed
    -- again. Missing repositories are not collected; their past data stays.
    missing_since  timestamptz,
    PRIMARY KEY (enterprise_id, id)
);
-- Not unique: a renamed repository and a new one taking its old name can both be
-- stored until the next listing updates the renamed one.
CREATE INDEX repositories_full_name ON repositories (enterprise_id, full_name);

-- Commits on default branches.
CREATE TABLE commits (
    enterprise_id    text        NOT NULL,
    repo_id          bigint      NOT NULL,
    sha              text        NOT NULL,
    author_login     text        NOT NULL DEFAULT '',
    author_name      text        NOT NULL DEFAULT '',
    author_is_bot    boolean     NOT NULL DEFAULT false,
    authored_at      timestamptz NOT NULL,
    committer_login  text        NOT NULL DEFAULT '',
    committed_at     timestamptz NOT NULL,
    message_headline text        NOT NULL DEFAULT '',
    parent_count     integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (enterprise_id, repo_id, sha)
);
CREATE INDEX commits_committed ON commits (enterprise_id, committed_at);

CREATE TABLE pull_requests (
    enterprise_id            text        NOT NULL,
    repo_id                  bigint      NOT NULL,
    number                   integer     NOT NULL,
    id                       bigint      NOT NULL,
    author_login             text        NOT NULL DEFAULT '',
    author_is_bot            boolean     NOT NULL DEFAULT false,
    title                    text        NOT NULL DEFAULT '',
    state                    text        NOT NULL,
    draft                    boolean     NOT NULL DEFAULT false,
    base_ref                 text        NOT NULL DEFAULT '',
    head_ref                 text        NOT NULL DEFAULT '',
    labels                   text[]      NOT NULL DEFAULT '{}',
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    closed_at                timestamptz,
    merged_at                timestamptz,
    merge_commit_sha         text        NOT NULL DEFAULT '',
    additions                integer     NOT NULL DEFAULT 0,
    deletions                integer     NOT NULL DEFAULT 0,
    changed_files            integer     NOT NULL DEFAULT 0,
    is_revert                boolean     NOT NULL DEFAULT false,
    is_hotfix                boolean     NOT NULL DEFAULT false,
    first_commit_authored_at timestamptz,
    PRIMARY KEY (enterprise_id, repo_id, number)
);
CREATE INDEX pull_requests_created ON pull_requests (enterprise_id, created_at);
CREATE INDEX pull_requests_merge_sha ON pull_requests (enterprise_id, repo_id, merge_commit_sha);
-- Repositories with open pull requests are watched for reviews and closes, which do not
-- move pushed_at.
CREATE INDEX pull_requests_open ON pull_requests (enterprise_id, repo_id) WHERE state = 'open';

-- A pull request's own commits as GitHub lists them (oldest first: position).
CREATE TABLE pull_request_commits (
    enterprise_id    text        NOT NULL,
    repo_id          bigint      NOT NULL,
    pr_number        integer     NOT NULL,
    sha              text        NOT NULL,
    position         integer     NOT NULL DEFAULT 0,
    author_login     text        NOT NULL DEFAULT '',
    author_name      text        NOT NULL DEFAULT '',
    authored_at      timestamptz NOT NULL,
    committer_login  text        NOT NULL DEFAULT '',
    committed_at     timestamptz,
    message_headline text        NOT NULL DEFAULT '',
    parent_count     integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (enterprise_id, repo_id, pr_number, sha)
);

CREATE TABLE pull_request_reviews (
    enterprise_id   text        NOT NULL,
    repo_id         bigint      NOT NULL,
    pr_number       integer     NOT NULL,
    review_id       bigint      NOT NULL,
    reviewer_login  text        NOT NULL DEFAULT '',
    reviewer_is_bot boolean     NOT NULL DEFAULT false,
    state           text        NOT NULL,
    submitted_at    timestamptz,
    PRIMARY KEY (enterprise_id, repo_id, review_id)
);
CREATE INDEX pull_request_reviews_pr ON pull_request_reviews (enterprise_id, repo_id, pr_number);

CREATE TABLE workflow_runs (
    enterprise_id  text        NOT NULL,
    repo_id        bigint      NOT NULL,
    run_id         bigint      NOT NULL,
    workflow_id    bigint      NOT NULL,
    name           text        NOT NULL DEFAULT '',
    path           text        NOT NULL DEFAULT '',
    event          text        NOT NULL DEFAULT '',
    head_branch    text        NOT NULL DEFAULT '',
    head_sha       text        NOT NULL DEFAULT '',
    status         text        NOT NULL,
    conclusion     text        NOT NULL DEFAULT '',
    actor_login    text        NOT NULL DEFAULT '',
    actor_is_bot   boolean     NOT NULL DEFAULT false,
    run_attempt    integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    run_started_at timestamptz,
    PRIMARY KEY (enterprise_id, repo_id, run_id)
);
CREATE INDEX workflow_runs_created ON workflow_runs (enterprise_id, created_at);
CREATE INDEX workflow_runs_open ON workflow_runs (enterprise_id, repo_id) WHERE status <> 'completed';

-- Deployments of either signal; the signal used is stored with each row. Statuses are
-- collected for production deployments only (the metrics ignore the others), so
-- latest_state is '' for non-production rows.
CREATE TABLE deployments (
    enterprise_id  text        NOT NULL,
    repo_id        bigint      NOT NULL,
    signal         text        NOT NULL CHECK (signal IN ('deployment', 'workflow')),
    deployment_id  bigint      NOT NULL,   -- deployment id, or workflow run id
    sha            text        NOT NULL,
    ref            text        NOT NULL DEFAULT '',
    environment    text        NOT NULL DEFAULT '',
    production     boolean     NOT NULL DEFAULT false,
    creator_login  text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    latest_state   text        NOT NULL DEFAULT '',
    changes_loaded boolean     NOT NULL DEFAULT false, -- compare done for this successful production deployment
    -- The SHA the changes were compared against: the previous successful production
    -- deployment's ('' for the first one, which has no changes). A deployment whose
    -- predecessor changes (one that finished earlier appears later) is compared again.
    changes_base_sha text      NOT NULL DEFAULT '',
    PRIMARY KEY (enterprise_id, repo_id, signal, deployment_id)
);
CREATE INDEX deployments_created ON deployments (enterprise_id, created_at);

CREATE TABLE deployment_statuses (
    enterprise_id  text        NOT NULL,
    repo_id        bigint      NOT NULL,
    signal         text        NOT NULL,
    deployment_id  bigint      NOT NULL,
    status_id      bigint      NOT NULL,
    state          text        NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (enterprise_id, repo_id, signal, deployment_id, status_id)
);

-- The commits a successful production deployment brought (compare API), oldest first
-- (position).
CREATE TABLE deployment_changes (
    enterprise_id    text        NOT NULL,
    repo_id          bigint      NOT NULL,
    signal           text        NOT NULL,
    deployment_id    bigint      NOT NULL,
    sha              text        NOT NULL,
    position         integer     NOT NULL DEFAULT 0,
    author_login     text        NOT NULL DEFAULT '',
    author_name      text        NOT NULL DEFAULT '',
    authored_at      timestamptz NOT NULL,
    committer_login  text        NOT NULL DEFAULT '',
    committed_at     timestamptz,
    message_headline text        NOT NULL DEFAULT '',
    parent_count     integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (enterprise_id, repo_id, signal, deployment_id, sha)
);

CREATE TABLE incidents (
    enterprise_id  text        NOT NULL,
    repo_id        bigint      NOT NULL,
    number         integer     NOT NULL,
    title          text        NOT NULL DEFAULT '',
    author_login   text        NOT NULL DEFAULT '',
    labels         text[]      NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL,
    closed_at      timestamptz,
    PRIMARY KEY (enterprise_id, repo_id, number)
);

