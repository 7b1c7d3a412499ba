// Package github is the only GitHub client of the collector: one Client per configured
// enterprise, built on go-github (v93) and speaking metrics types. go-github's
// pointer-heavy structs never leave this package.
//
// # What the client guarantees
//
//   - The token goes only to the configured API origin (scheme, host and port of
//     Options.BaseURL). It is attached per request by the client's transport; a
//     redirect or a pagination link to any other origin is refused, and Copilot
//     report downloads use a separate HTTP client that never carries an Authorization
//     header.
//   - The client fetches nothing outside GitHub (egress.go): report links and their
//     redirects only from the allowed download hosts over https, and no connection to
//     a loopback, private or link-local address unless the API itself is on loopback.
//   - List endpoints are iterators (iter.Seq2[T, error]) that follow the Link header's
//     "next" URL with per_page=100, and are conditional: the ETag, body and Link of each
//     page are kept in a Cache, If-None-Match is sent, and a 304 (which costs no quota)
//     replays the stored page and its Link.
//   - Errors are typed: ErrTokenRefused (401, never retried), ErrTokenUnusable (the
//     token source holds no usable token, never sent), ErrDisallowedHost (egress
//     refused, never retried), *RateLimitError (gave up
//     waiting; carries the reset time; errors.Is(err, ErrRateLimited)), ErrForbidden
//     (403 that is not a rate limit), ErrNotFound (404), ErrUnavailable (5xx, resets and
//     truncated bodies after the retry budget).
//
// # Rate-limit strategy
//
// GitHub allows a token a primary budget per hour (5,000 requests for a PAT, 15,000 for
// an app installation on GHEC) and enforces secondary limits (concurrency, points per
// minute, CPU time) that cannot be queried. The client therefore paces itself instead
// of reacting to refusals:
//
//  1. Concurrency: at most Options.MaxInFlight requests are in flight (default 4).
//  2. Ceiling: a fixed token bucket of Options.MaxRate requests/s (default 10) keeps
//     every endpoint well under the secondary limit of 900 points a minute.
//  3. Budget: a rate.Limiter re-tuned from every response's x-ratelimit-limit,
//     -remaining and -reset headers. Of the remaining budget a reserve is held back
//     (Options.Reserve, default 1% of the limit); half of the rest may be spent at once
//     and the remainder is spread evenly over the time left to the reset. As the budget
//     shrinks the pace slows, so collection slows before GitHub says no. At or below
//     the reserve nothing is sent until the reset.
//
// When GitHub refuses anyway (403 or 429 that carries rate-limit signs):
//
//   - Retry-After present (secondary limit): wait that long;
//   - else x-ratelimit-remaining is 0 (primary limit): wait until x-ratelimit-reset;
//   - else: wait at least 60 s, doubling with each further wait, plus jitter.
//
// A wait blocks every request of the client, not only the refused one, so nothing is
// sent meanwhile. After Options.RateLimitWaits waits for one request, or when a wait
// would be longer than Options.MaxWait or end after the context's deadline, the client
// gives up at once with a *RateLimitError carrying the time GitHub expects to accept
// requests again, so a stage can commit and answer with a cursor instead of sleeping
// through its time budget.
//
// 5xx answers, connection resets and truncated bodies (a short read, or a 2xx JSON body
// that does not parse) are retried Options.Retries times (default 3) with exponential
// backoff and jitter. Other 4xx answers are not retried. Every wait goes through
// Options.Clock, so tests never sleep.
//
// # GraphQL
//
// QueryRepos reads pull requests, deployments and incident issues through GitHub's
// GraphQL API (POST <BaseURL>graphql) on the same http.Client and transport: the token,
// egress rules, counters and logger are the REST client's, and so are the slots in
// flight (GitHub's concurrency limit counts REST and GraphQL together). GraphQL has its
// own budget in points (x-ratelimit-resource: graphql): the pacer keeps one limiter and
// one block per resource, reserves each query's cost — estimated before sending as
// GitHub computes it, the connection requests ÷ 100 — never sends a query the window
// cannot pay for, and keeps GraphQL under 2,000 points a minute. A RATE_LIMITED answer
// waits for the reset. Queries that time out, answer 5xx or exceed GitHub's resource
// limits are retried by the GraphQL client itself, with half the repositories or half the
// page size, which grows back after three successes. See graphql.go and decision 0006.
//
// # Counters and token health
//
// ctx = WithCounters(ctx, &c) makes every request made with ctx count into c (requests
// sent, 304s, retries, waits, lowest x-ratelimit-remaining seen, the limit; GraphQL
// queries, their points and the GraphQL budget's lowest remaining). The client
// records the token's expiry (github-authentication-token-expiration), the last
// accepted and the last refused request; see Client.TokenHealth and
// Client.TokenExpiresWithin.
package github
