-- GitHub client state: conditional-request cache and token health.

-- ETag and body of each list page we fetched, per enterprise (ETags are bound to the
-- token) and URL. A 304 answer reuses the stored body and costs no quota. The client
-- stores the body gzip-compressed (list pages compress about tenfold).
CREATE TABLE github_etags (
    enterprise_id text        NOT NULL,
    url           text        NOT NULL,
    etag          text        NOT NULL,
    link          text        NOT NULL DEFAULT '',  -- the page's Link header, for pagination on 304
    body          bytea       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, url)
);

-- What the client learned about each enterprise's token: the expiry GitHub announced
-- with the latest accepted answer, and when it was last accepted and last refused (401).
CREATE TABLE github_token_health (
    enterprise_id    text        PRIMARY KEY,
    expires_at       timestamptz,            -- github-authentication-token-expiration, when sent
    last_ok_at       timestamptz,
    last_refused_at  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Per-stream watermarks. scope names what the watermark is for (an org, a repository
-- id, a Copilot report scope); stream names the data (e.g. 'pulls', 'copilot:users').
-- Data and its watermark are written in the same transaction.
CREATE TABLE sync_watermarks (
    enterprise_id text        NOT NULL,
    stream        text        NOT NULL,
    scope         text        NOT NULL,
    watermark     timestamptz NOT NULL,
    state         jsonb       NOT NULL DEFAULT '{}',
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (enterprise_id, stream, scope)
);
