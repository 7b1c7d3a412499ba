-- DORA metric_version 2 (docs/metrics.md): what the failure signals need, and the new
-- columns of dora_metrics.

-- The commits a default-branch commit's message says it reverts ("This reverts commit
-- <sha>."), lower case; '{}' for every other commit and for commits stored before this
-- migration (a re-collection with since fills them).
ALTER TABLE commits ADD COLUMN reverts text[] NOT NULL DEFAULT '{}';
CREATE INDEX commits_reverts ON commits (enterprise_id, committed_at) WHERE reverts <> '{}';

-- The pull request of the same repository a pull request's description says it reverts
-- (GitHub's Revert button: "Reverts owner/repo#N"); 0 for none.
ALTER TABLE pull_requests ADD COLUMN reverts_number integer NOT NULL DEFAULT 0;

-- GitHub's state_reason of an incident issue: completed, not_planned, reopened,
-- duplicate, or '' (none given).
ALTER TABLE incidents ADD COLUMN state_reason text NOT NULL DEFAULT '';

ALTER TABLE dora_metrics
    ADD COLUMN failed_attempts      integer NOT NULL DEFAULT 0,
    ADD COLUMN unrecovered_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN repos_elite          integer NOT NULL DEFAULT 0,
    ADD COLUMN repos_high           integer NOT NULL DEFAULT 0,
    ADD COLUMN repos_medium         integer NOT NULL DEFAULT 0,
    ADD COLUMN repos_low            integer NOT NULL DEFAULT 0;

-- Weeks with failures not yet restored stay in the recompute window however old
-- (calculate_dora looks them up), and rows of an older metric_version are recomputed once.
CREATE INDEX dora_metrics_unrecovered ON dora_metrics (enterprise_id, week_start)
    WHERE scope_type = 'repository' AND unrecovered_failures > 0;
