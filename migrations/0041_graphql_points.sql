-- GraphQL collection (issue 13): a stage call's GraphQL queries and the points GitHub
-- charged for them, beside api_calls (which counts the queries too), so the GraphQL
-- budget's use is in the audit trail like the REST one's (rate_limit_low is REST's).

ALTER TABLE stage_calls
    ADD COLUMN graphql_requests bigint NOT NULL DEFAULT 0,
    ADD COLUMN graphql_points   bigint NOT NULL DEFAULT 0,
    ADD COLUMN graphql_rate_limit_low integer;   -- lowest remaining points seen during the call
