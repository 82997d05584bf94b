// The metadata store's schema: numbered steps, applied in order and never edited once released
// (add a step instead). Written in SQLite's dialect; the PostgreSQL backend runs each step
// through ToPostgresDialect (sql_store.h), so both backends always have the same tables.
//
// Columns keep to what both databases share: TEXT, INTEGER (64-bit; BIGINT in PostgreSQL) for
// numbers, times (Unix nanoseconds) and 0/1 flags. `seq` orders rows by insertion.
#pragma once

#include "db/sqlite.h"

namespace berth::metastore::internal {

inline constexpr db::Migration kSchema[] = {
    {1, R"sql(
CREATE TABLE organizations (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE users (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  admin INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (org_id, name)
);
CREATE TABLE projects (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  region TEXT NOT NULL,
  cache_cap_bytes INTEGER NOT NULL,
  build_retention_days INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (org_id, name)
);
CREATE TABLE tokens (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
  project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
CREATE INDEX tokens_org ON tokens (org_id);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_project ON tokens (project_id);
CREATE TABLE builds (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  queued_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  options_json TEXT NOT NULL,
  dockerfile TEXT NOT NULL,
  first_miss_step TEXT NOT NULL,
  error_message TEXT NOT NULL,
  context_files_sent INTEGER NOT NULL,
  context_bytes_sent INTEGER NOT NULL
);
CREATE INDEX builds_project ON builds (project_id, seq);
CREATE INDEX builds_status ON builds (status);
CREATE TABLE build_steps (
  seq INTEGER PRIMARY KEY,
  build_id TEXT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
  vertex TEXT NOT NULL,
  name TEXT NOT NULL,
  line INTEGER NOT NULL,
  cached INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  duration_ns INTEGER NOT NULL,
  log TEXT NOT NULL,
  layer_size INTEGER NOT NULL,
  UNIQUE (build_id, vertex)
);
CREATE TABLE build_context_files (
  build_id TEXT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (build_id, path)
);
CREATE INDEX build_context_files_order ON build_context_files (build_id, ordinal);
)sql"},
    // Tokens whose secret came from outside (BERTHD_ADMIN_TOKEN) are found by their hash.
    {2, R"sql(
CREATE UNIQUE INDEX tokens_secret_hash ON tokens (secret_hash);
)sql"},
    // berthd's registry: blobs linked into repositories, manifests, tags (registryserver/).
    {3, R"sql(
CREATE TABLE registry_blobs (
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (repository, digest)
);
CREATE INDEX registry_blobs_project ON registry_blobs (project_id);
CREATE TABLE registry_manifests (
  seq INTEGER PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  artifact_type TEXT NOT NULL,
  subject TEXT NOT NULL,
  annotations_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (repository, digest)
);
CREATE INDEX registry_manifests_project ON registry_manifests (project_id);
CREATE INDEX registry_manifests_subject ON registry_manifests (repository, subject);
CREATE TABLE registry_tags (
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repository, tag),
  FOREIGN KEY (repository, digest) REFERENCES registry_manifests (repository, digest)
    ON DELETE CASCADE
);
CREATE INDEX registry_tags_project ON registry_tags (project_id);
CREATE INDEX registry_tags_digest ON registry_tags (repository, digest);
)sql"},
    // A monthly build-minute cap per organization (0 = none; service/usage_api.h).
    {4, R"sql(
ALTER TABLE organizations ADD COLUMN build_minutes_cap INTEGER NOT NULL DEFAULT 0;
)sql"},
    // OIDC trust policies: a project trusts an issuer's tokens with claim conditions (oidc/).
    {5, R"sql(
CREATE TABLE trust_policies (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  issuer TEXT NOT NULL,
  audience TEXT NOT NULL,
  conditions_json TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX trust_policies_project ON trust_policies (project_id);
CREATE INDEX trust_policies_issuer ON trust_policies (issuer);
)sql"},
};

}  // namespace berth::metastore::internal
