// Package githubsim simulates the parts of GitHub Enterprise Cloud the collector reads,
// over GitHub's documented REST paths and payload shapes, for tests, benchmarks and
// `make demo`.
//
// # The world and the moving now
//
// New builds a deterministic world from Config.Seed: enterprises (each with its own
// token), organizations, people, repositories and, for every repository, a timeline of
// events from Now−HistoryDays to Now+FutureDays. The API shows that timeline as of the
// simulated now, which only moves through Advance and SetNow: a pull request merged after
// now is open, a commit pushed after now does not exist, a workflow run finishing after
// now is queued or in_progress, a deployment status created after now is not listed,
// updated_at is the latest event at or before now. Truth and CopilotTruth return the same
// view in internal/metrics types, so tests compare what the collector stored with what
// GitHub "has" (down to the reverted SHAs of commit messages, the pull request a revert
// names, state_reason, and change sets per repository and production environment).
// DemoConfig and BenchmarkConfig are the two prepared sizes.
//
// What the world contains (every org's first active repository, its showcase, holds each
// rare case at a fixed place, its third and fourth those of monorepos and regional
// rollouts; random occurrences elsewhere; see gen_repo.go for places and rates):
//   - active, dormant (no push for 200+ days), archived and fork repositories;
//   - default-branch commits from direct pushes and from pull requests merged with a
//     merge commit (two parents, the PR's commits reachable), a squash (one new commit,
//     the PR's merge_commit_sha, with GitHub's default message) or a rebase (new SHAs
//     keeping author date and message; merge_commit_sha is the last one); open pull
//     requests report their test-merge SHA as merge_commit_sha, as GitHub does;
//   - pull requests open, merged, closed unmerged, drafts; reviews by colleagues
//     (APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED), comments by the author,
//     Copilot code reviews, Dependabot and Copilot coding-agent pull requests and
//     hotfixes (`hotfix: ...`, branch hotfix/...);
//   - reverts as GitHub and git write them: Revert-button pull requests (`Revert
//     "<title>"`, branch revert-<N>-<head>, body "Reverts owner/repo#N", one `git
//     revert` commit per commit the reverted merge landed, -m 1 for a merge commit:
//     "This reverts commit <sha>, reversing changes made to <parent>.") fixing an
//     incident or, later and without one, reverting a pull request an earlier release
//     deployed (so blaming the release before the revert would be wrong); direct-push
//     `git revert` commits of an earlier release's commit; and pull requests whose own
//     commits are WIP, Revert "WIP", final (an in-PR revert, no failure);
//   - commit authors whose e-mail has no account (author and committer null);
//   - workflow runs (CI on pushes and pull requests, staging and release deployments,
//     nightly schedules) that succeed, fail, are cancelled, are re-run (run_attempt 2),
//     and one busy repository per org with BusyRepo with 1,100–1,300 runs on one day;
//   - deployments to staging and to production with queued → in_progress → success |
//     failure | error statuses, inactive once a later deployment to the environment
//     succeeds; production is one environment ("production" or "prod"), a monorepo's
//     services released independently ("production/api", "production/web": web often
//     runs an older SHA than api, which is no rollback), or regions one release rolls
//     out to within two hours ("production-eu", "production-us", "production-ap");
//     failed attempts redeployed with the same SHA, rollbacks to an older SHA, a
//     deployment whose final status comes after the initial now;
//   - incident issues (label "incident") opened after a bad production deployment and
//     closed when the rollback, revert or hotfix is deployed, one opened before the
//     repository's first deployment, one still open; false alarms closed as not_planned
//     or duplicate (state_reason); incidents whose label is later replaced by "bug"
//     (they leave the labels=incident listing and their updated_at moves); in every
//     showcase one of each changes 2 and 3 hours after the initial now; ordinary
//     issues; pull requests that carry the incident label (the issues API lists them
//     with a pull_request key);
//   - Copilot seats (one per granting org; cancellations with pending_cancellation_date;
//     seats created after the initial now; one seat whose assignee is null) and usage
//     computed per user and day on demand (it is not stored), aggregated per enterprise
//     and per org (a user in two orgs counts in both, so org totals exceed the
//     enterprise's); the last three report days keep growing until final.
//
// # The HTTP surface
//
// API() serves, on the API host: GET /orgs/{org}/repos, /repos/{o}/{r},
// /repos/{o}/{r}/commits[/{ref}], /compare/{base}...{head}, /pulls[/{n}[/commits|/reviews]],
// /actions/runs[/{id}], /deployments[/{id}[/statuses]], /issues, the Copilot usage-metrics
// reports of enterprises and orgs (enterprise-1-day, organization-1-day, users-1-day,
// user-teams-1-day, and the 28-day /latest reports), the Copilot seat listings,
// /orgs/{org}/teams, /orgs/{org}/teams/{slug}/members and /orgs/{org}/teams/{slug}/repos
// (with permissions and role_name), and /rate_limit. Everything else is a JSON 404. Every answer follows GitHub's conventions:
// Link pagination (absolute URLs on the request's host; per_page capped at 100, compare
// at 250); an ETag bound to the token on every 200 and 304 for a matching If-None-Match
// (not charged); x-ratelimit-* headers of a per-token hourly window in simulated time,
// 403 "API rate limit exceeded" with remaining 0 when it runs out; 401 "Bad credentials"
// without a known token; 404 for anything of another enterprise; 400 for an
// X-GitHub-Api-Version other than 2022-11-28 or 2026-03-10; X-GitHub-Request-Id; and
// github-authentication-token-expiration when the enterprise's token has an expiry.
// Filtered workflow-run queries page through at most 1,000 results while total_count
// reports the true number.
//
// # GraphQL
//
// POST /graphql serves GitHub's GraphQL API over the same world (graphql*.go). Every query
// is parsed and validated against GitHub's published schema (@octokit/graphql-schema
// 15.26.1, vendored unmodified in testdata/graphql with its MIT licence; GraphQLSchema
// returns it), so a query GitHub would refuse is refused here: 200 with errors and no
// data. Then GitHub's documented limits: first/last within 1..100 and required where
// nodes or edges are asked (MISSING_PAGINATION_BOUNDARIES, EXCESSIVE_PAGINATION), at most
// 500,000 possible nodes (MAX_NODE_LIMIT_EXCEEDED). A query costs what GitHub computes:
// one request per connection asked with first/last, times the page sizes of the
// connections above it, ÷ 100, rounded, at least 1 point — charged to the token's own
// GraphQL window (Config.GraphQLRateLimit points an hour, x-ratelimit-* headers with
// x-ratelimit-resource: graphql, rateLimit { cost remaining resetAt … } in the answer; a
// spent budget answers 200 with a RATE_LIMITED error). Secondary limits: at most
// Config.GraphQLPointsPerMinute points in any minute (403 with Retry-After) and
// Config.MaxConcurrent requests in flight per token, REST and GraphQL together.
// Served: rateLimit, repository (pullRequests, pullRequest, issues, deployments and the
// fields a collector reads of them: sizes, authors, commits with full messages, reviews,
// labels, deployment statuses and latestStatus, stateReason), node and nodes by global id.
// A field of the schema the simulator does not serve answers a NOT_SIMULATED error at
// its path, never a silent null. GraphQL shows some things differently from REST, as
// GitHub's does: bots' logins lack "[bot]" (the Copilot coding agent is
// "copilot-swe-agent"), a commit's GitActor.user is null for bots, databaseId is null
// for ids beyond 32 bits (fullDatabaseId and global ids carry them), mergeCommit is null
// until merged (the test merge is potentialMergeCommit), enums are upper case. Global
// ids (GraphQL id, REST node_id) have GitHub's current form: a type prefix and the
// base64url MessagePack of [0, database id]. Faults.GraphQLTimeouts, ResourceLimits and
// HeavyQueryNodes inject the failures GitHub's GraphQL API has (502, "Something went
// wrong while executing your query", RESOURCE_LIMITS_EXCEEDED); the generic faults apply
// to /graphql too. Request.Points, Nodes and Operation record what each query cost.
//
// Report envelopes link to Downloads(), a second handler for a different origin (start
// both with Start, or serve them with Serve): links are signed and expire after
// Config.LinkTTL of simulated time (403 afterwards, and for a forged signature); per-user
// and user-team reports are NDJSON split in shards of Config.UserShardSize lines; days
// without a report (before the history floors 2025-10-10 and 2025-12-12, more than a
// year back, not generated yet, Config.CopilotMissingDay) answer 204. Records carry fields
// the collector does not model (ai_adoption_phase, totals_by_cli,
// totals_by_3rd_party_agent) and, from Config.CopilotNewFieldFrom, one no client knows.
//
// SetFaults injects failures deterministically from the seed and the request sequence:
// 502/503, secondary rate limits (403/429, with and without Retry-After), primary-limit
// exhaustion, truncated bodies, connection resets and latency (through Config.Sleep, so
// tests need not sleep), on either host and chosen paths; Faults.MaxConsecutive = 1
// guarantees a retry of the same request gets through. Requests records every request:
// host, method, path, query, status, the token it carried, whether it was charged, the
// fault injected.
//
// # What is left out
//
// Only reads exist (GET, and GraphQL queries): nothing can be created or changed. Payloads carry the fields a
// client reads plus the common URL fields; among those left out are permissions,
// licences, template and security settings of repositories, commit verification
// signatures and file patches, pull-request auto-merge, milestones, assignees and
// requested reviewers (always empty), review comments, issue comments and timeline
// events (ready_for_review and label changes are only visible through draft, labels and
// updated_at), reopened, transferred or deleted issues (no state_reason "reopened"),
// check runs and jobs of workflow runs, deployment payloads and environments, the
// repos-1-day and enterprise-team Copilot reports, and the legacy Copilot metrics API
// (gone from GitHub too). Commits can be listed from the default branch, an open pull request's head
// branch or a SHA; other branches, tags, path and author filters are not modelled, and
// the test-merge commit an open pull request names as merge_commit_sha cannot be
// fetched.
// Mutations, webhooks, REST secondary-limit accounting by points and fine-grained
// token permissions are not simulated: every PAT may read all of its enterprise.
//
// # GitHub App
//
// With Config.App the world has a GitHub App installed on organizations (app.go):
// GET /orgs/{org}/installation, GET /app/installations/{id}, GET /app and
// POST /app/installations/{id}/access_tokens answer only to the app's JWT, checked as
// GitHub does (RS256 signature with the app's public key, iss the client id or app id,
// exp in the future and at most 10 minutes after iat; 401 with GitHub's message
// otherwise). Installation tokens (ghs_…) read their organization's endpoints only
// (another organization is 404, the enterprise endpoints 403 "Resource not
// accessible by integration"), expire App.TokenTTL after minting in simulated time
// (401 afterwards, so renewal can be tested without waiting an hour), and share their
// installation's rate-limit window of App.RateLimit (15,000) requests an hour, which
// their x-ratelimit headers report. Requests records the installation of each. The download host answers requests that carry a token (real storage may
// refuse them); Requests shows whether a client sent one.
package githubsim
