-- Indexes for the daily retention job (RETENTION_DAYS, postgres/prune.go): each batch
-- finds the oldest rows of a table by the column it is pruned on, across enterprises,
-- without scanning the table. (Numbered with a gap on purpose: migrations are applied in
-- number order and nothing here depends on the ones between.)

CREATE INDEX copilot_raw_records_day ON copilot_raw_records (day);
CREATE INDEX copilot_user_metrics_day ON copilot_user_metrics (day);
CREATE INDEX copilot_breakdowns_day ON copilot_breakdowns (day);
CREATE INDEX copilot_user_teams_day ON copilot_user_teams (day);
CREATE INDEX copilot_seats_snapshot ON copilot_seats (snapshot_date);
CREATE INDEX commits_committed_any ON commits (committed_at);
CREATE INDEX pull_requests_closed_updated ON pull_requests (updated_at) WHERE state <> 'open';
CREATE INDEX workflow_runs_completed_created ON workflow_runs (created_at) WHERE status = 'completed';
CREATE INDEX deployments_created_any ON deployments (created_at);
