-- Retention of the team listings (issue 16 left them unpruned; docs/security.md §14):
-- prune_data deletes membership periods that ended before RETENTION_DAYS, and teams
-- missing from their org's listing since before then with their members and
-- repositories. The partial index finds ended periods without reading current ones.

CREATE INDEX team_members_until ON team_members (until) WHERE until IS NOT NULL;
