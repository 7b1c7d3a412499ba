-- Copilot chat and agent interactions as issue 12 defines them (docs/metrics.md, "Copilot
-- helpers"; metrics.CopilotInteractions), per day and now also per user, and Copilot code
-- review's own suggestion counts.
--
--   agent_interactions = user_initiated_interaction_count of the chat_panel_agent_mode
--                        feature element;
--   chat_interactions  = the same of every other chat_panel_* element plus chat_inline;
--   agent_edit counts in neither (it carries code and line counts, no interactions).
--   A chat-panel mode without an element carrying the count is taken from the record's
--   top-level chat_panel_<mode>_mode counter. NULL when none of them is present.
--
-- Until now chat_interactions summed every chat_panel_* element, agent mode included,
-- and agent_interactions read agent_edit (the column comments of 0003 describe that).
-- Stored rows are recomputed here from what is stored, without calling GitHub: daily rows
-- from copilot_breakdowns (dimension feature) and the top-level counters of the day's
-- aggregate raw record; user rows from their users raw record. A user row without a raw
-- record keeps NULL. Only integer JSON numbers are read (a counter the old decoder
-- ignored and that is not one counts as absent).

ALTER TABLE copilot_daily_metrics
    ADD COLUMN pr_total_copilot_suggestions         bigint,
    ADD COLUMN pr_total_copilot_applied_suggestions bigint;

ALTER TABLE copilot_user_metrics
    ADD COLUMN chat_interactions  bigint,
    ADD COLUMN agent_interactions bigint;

COMMENT ON COLUMN copilot_daily_metrics.chat_interactions IS
    'chat_panel_* features except agent mode, plus chat_inline (metrics.CopilotInteractions)';
COMMENT ON COLUMN copilot_daily_metrics.agent_interactions IS
    'chat_panel_agent_mode feature (metrics.CopilotInteractions); agent_edit is not counted';
COMMENT ON COLUMN copilot_daily_metrics.pr_total_suggestions IS
    'pull_requests.total_suggestions: code-review suggestions of every reviewer, Copilot included';
COMMENT ON COLUMN copilot_daily_metrics.pr_total_copilot_suggestions IS
    'pull_requests.total_copilot_suggestions: Copilot code review''s own suggestions';
COMMENT ON COLUMN copilot_daily_metrics.pr_total_copilot_applied_suggestions IS
    'pull_requests.total_copilot_applied_suggestions';
COMMENT ON COLUMN copilot_user_metrics.chat_interactions IS
    'as copilot_daily_metrics.chat_interactions, from the user record';
COMMENT ON COLUMN copilot_user_metrics.agent_interactions IS
    'as copilot_daily_metrics.agent_interactions, from the user record';

-- Daily rows: every row is recomputed (a row whose v1 figures came from agent_edit alone
-- becomes NULL).
WITH mode (feature) AS (
    VALUES ('chat_panel_agent_mode'), ('chat_panel_ask_mode'), ('chat_panel_custom_mode'),
           ('chat_panel_edit_mode'), ('chat_panel_plan_mode'), ('chat_panel_unknown_mode')
),
element AS (
    SELECT enterprise_id, scope_type, scope, day, key1 AS feature, user_initiated_interactions AS n
    FROM copilot_breakdowns
    WHERE dimension = 'feature' AND user_initiated_interactions IS NOT NULL
      AND (key1 LIKE 'chat\_panel\_%' OR key1 = 'chat_inline')
),
counter AS (
    SELECT r.enterprise_id, r.scope_type, r.scope, r.day, m.feature, (r.payload->>m.feature)::bigint AS n
    FROM copilot_raw_records r CROSS JOIN mode m
    WHERE r.report = 'aggregate' AND r.record_key = ''
      AND jsonb_typeof(r.payload->m.feature) = 'number' AND r.payload->>m.feature ~ '^-?[0-9]{1,18}$'
      AND NOT EXISTS (SELECT 1 FROM element e
                      WHERE (e.enterprise_id, e.scope_type, e.scope, e.day, e.feature)
                          = (r.enterprise_id, r.scope_type, r.scope, r.day, m.feature))
),
v2 AS (
    SELECT enterprise_id, scope_type, scope, day,
           sum(n) FILTER (WHERE feature <> 'chat_panel_agent_mode')::bigint AS chat,
           sum(n) FILTER (WHERE feature = 'chat_panel_agent_mode')::bigint AS agent
    FROM (SELECT * FROM element UNION ALL SELECT * FROM counter) AS c
    GROUP BY enterprise_id, scope_type, scope, day
),
recomputed AS (
    SELECT k.enterprise_id, k.scope_type, k.scope, k.day, v2.chat, v2.agent
    FROM copilot_daily_metrics k LEFT JOIN v2 USING (enterprise_id, scope_type, scope, day)
)
UPDATE copilot_daily_metrics d
SET chat_interactions = r.chat, agent_interactions = r.agent, updated_at = now()
FROM recomputed r
WHERE (d.enterprise_id, d.scope_type, d.scope, d.day) = (r.enterprise_id, r.scope_type, r.scope, r.day)
  AND (d.chat_interactions, d.agent_interactions) IS DISTINCT FROM (r.chat, r.agent);

-- Daily rows: Copilot code review's own counts, from the aggregate raw record.
WITH pr AS (
    SELECT enterprise_id, scope_type, scope, day,
           CASE WHEN jsonb_typeof(payload->'pull_requests'->'total_copilot_suggestions') = 'number'
                 AND payload->'pull_requests'->>'total_copilot_suggestions' ~ '^-?[0-9]{1,18}$'
                THEN (payload->'pull_requests'->>'total_copilot_suggestions')::bigint END AS suggestions,
           CASE WHEN jsonb_typeof(payload->'pull_requests'->'total_copilot_applied_suggestions') = 'number'
                 AND payload->'pull_requests'->>'total_copilot_applied_suggestions' ~ '^-?[0-9]{1,18}$'
                THEN (payload->'pull_requests'->>'total_copilot_applied_suggestions')::bigint END AS applied
    FROM copilot_raw_records
    WHERE report = 'aggregate' AND record_key = ''
)
UPDATE copilot_daily_metrics d
SET pr_total_copilot_suggestions = pr.suggestions, pr_total_copilot_applied_suggestions = pr.applied,
    updated_at = now()
FROM pr
WHERE (d.enterprise_id, d.scope_type, d.scope, d.day) = (pr.enterprise_id, pr.scope_type, pr.scope, pr.day)
  AND (pr.suggestions, pr.applied) IS DISTINCT FROM (NULL::bigint, NULL::bigint);

-- User rows, from each user's raw record (record_key is the user id).
WITH mode (feature) AS (
    VALUES ('chat_panel_agent_mode'), ('chat_panel_ask_mode'), ('chat_panel_custom_mode'),
           ('chat_panel_edit_mode'), ('chat_panel_plan_mode'), ('chat_panel_unknown_mode')
),
raw AS (
    SELECT enterprise_id, scope_type, scope, day, record_key::bigint AS user_id, payload
    FROM copilot_raw_records
    WHERE report = 'users' AND record_key ~ '^-?[0-9]{1,18}$'
),
element AS (
    SELECT r.enterprise_id, r.scope_type, r.scope, r.day, r.user_id, e->>'feature' AS feature,
           (e->>'user_initiated_interaction_count')::bigint AS n
    FROM raw r,
         jsonb_array_elements(CASE WHEN jsonb_typeof(r.payload->'totals_by_feature') = 'array'
                                   THEN r.payload->'totals_by_feature' ELSE '[]'::jsonb END) AS e
    WHERE (e->>'feature' LIKE 'chat\_panel\_%' OR e->>'feature' = 'chat_inline')
      AND jsonb_typeof(e->'user_initiated_interaction_count') = 'number'
      AND e->>'user_initiated_interaction_count' ~ '^-?[0-9]{1,18}$'
),
counter AS (
    SELECT r.enterprise_id, r.scope_type, r.scope, r.day, r.user_id, m.feature, (r.payload->>m.feature)::bigint AS n
    FROM raw r CROSS JOIN mode m
    WHERE jsonb_typeof(r.payload->m.feature) = 'number' AND r.payload->>m.feature ~ '^-?[0-9]{1,18}$'
      AND NOT EXISTS (SELECT 1 FROM element e
                      WHERE (e.enterprise_id, e.scope_type, e.scope, e.day, e.user_id, e.feature)
                          = (r.enterprise_id, r.scope_type, r.scope, r.day, r.user_id, m.feature))
),
v2 AS (
    SELECT enterprise_id, scope_type, scope, day, user_id,
           sum(n) FILTER (WHERE feature <> 'chat_panel_agent_mode')::bigint AS chat,
           sum(n) FILTER (WHERE feature = 'chat_panel_agent_mode')::bigint AS agent
    FROM (SELECT * FROM element UNION ALL SELECT * FROM counter) AS c
    GROUP BY enterprise_id, scope_type, scope, day, user_id
)
UPDATE copilot_user_metrics m
SET chat_interactions = v2.chat, agent_interactions = v2.agent, updated_at = now()
FROM v2
WHERE (m.enterprise_id, m.scope_type, m.scope, m.day, m.user_id) = (v2.enterprise_id, v2.scope_type, v2.scope, v2.day, v2.user_id)
  AND (m.chat_interactions, m.agent_interactions) IS DISTINCT FROM (v2.chat, v2.agent);
