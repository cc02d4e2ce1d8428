-- People's access: users (staff, never patients), the teams and sites they belong to, their API
-- tokens and their web sessions. Tokens and session ids are kept only as their SHA-256, passwords
-- only as argon2id hashes. Times are Unix milliseconds; ids sort byte by byte as in SQLite. Keep
-- in step with ../sqlite/0003_access.sql.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,          -- '': no password sign-in, API tokens only
    disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1))
);

-- A doctor's teams.
CREATE TABLE user_teams (
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    team_id TEXT COLLATE "C" NOT NULL REFERENCES teams (id),
    PRIMARY KEY (user_id, team_id)
);
CREATE INDEX user_teams_team ON user_teams (team_id, user_id);

-- A fleet manager's sites.
CREATE TABLE user_sites (
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    site_id TEXT COLLATE "C" NOT NULL REFERENCES sites (id),
    PRIMARY KEY (user_id, site_id)
);
CREATE INDEX user_sites_site ON user_sites (site_id, user_id);

CREATE TABLE api_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    name         TEXT   NOT NULL,
    hash         TEXT   NOT NULL UNIQUE,     -- hex SHA-256 of the token
    created_ms   BIGINT NOT NULL,
    last_used_ms BIGINT,                     -- NULL: never used
    revoked_ms   BIGINT                      -- NULL: valid
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

CREATE TABLE sessions (
    hash       TEXT   PRIMARY KEY,           -- hex SHA-256 of the session id (the cookie)
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    created_ms BIGINT NOT NULL,
    seen_ms    BIGINT NOT NULL,              -- last use, written at most once a minute
    expires_ms BIGINT NOT NULL               -- when it ends unless used: min(created + 12 h, seen + 30 min)
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_ms);
