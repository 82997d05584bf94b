#include "cache/sqlite_index.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <utility>

namespace berth::cache {

namespace {

// Schema steps, applied in order by db::Database::Migrate. Never edit a released step: add one.
constexpr db::Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE entries (
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL,
  key TEXT NOT NULL,
  snapshot TEXT NOT NULL,
  output_index INTEGER NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  description TEXT NOT NULL,
  location TEXT NOT NULL,
  platform TEXT NOT NULL,
  removing INTEGER NOT NULL DEFAULT 0,
  UNIQUE (project, key)
);
CREATE INDEX entries_lru ON entries (project, removing, last_used_at);
CREATE INDEX entries_snapshot ON entries (snapshot);
CREATE TABLE layers (
  entry_id INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  media_type TEXT NOT NULL,
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  diff_id TEXT NOT NULL,
  compression TEXT NOT NULL,
  PRIMARY KEY (entry_id, digest)
);
CREATE INDEX layers_digest ON layers (digest);
)sql"},
};

constexpr char kRecordColumns[] =
    "id, key, snapshot, output_index, size, created_at, last_used_at, description, location, "
    "platform";

int64_t ToNanos(Time t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Time FromNanos(int64_t ns) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::nanoseconds(ns)));
}

// Reads the columns of kRecordColumns; returns the row id.
int64_t ReadRecord(const db::Statement& st, Record& r) {
  r.key = st.ColumnText(1);
  r.snapshot = st.ColumnText(2);
  r.output_index = static_cast<int>(st.ColumnInt(3));
  r.size = st.ColumnInt(4);
  r.created_at = FromNanos(st.ColumnInt(5));
  r.last_used_at = FromNanos(st.ColumnInt(6));
  r.description = st.ColumnText(7);
  r.location = st.ColumnText(8);
  r.platform = st.ColumnText(9);
  return st.ColumnInt(0);
}

Result<digest::Digest> ParseStoredDigest(db::Database& db, const std::string& text) {
  Result<digest::Digest> d = digest::Digest::Parse(text);
  if (!d.ok()) {
    return Error::DataLoss("database " + db.path() + " holds a malformed digest \"" + text + "\"");
  }
  return d;
}

Result<std::vector<Layer>> ReadLayers(db::Database& db, int64_t entry_id) {
  db::Statement st =
      BERTH_TRY(db.Prepare("SELECT media_type, digest, size, diff_id, compression FROM layers "
                           "WHERE entry_id = ?1 ORDER BY seq"));
  st.BindAll(entry_id);
  std::vector<Layer> layers;
  while (BERTH_TRY(st.Step())) {
    Layer l;
    l.media_type = st.ColumnText(0);
    l.digest = BERTH_TRY(ParseStoredDigest(db, st.ColumnText(1)));
    l.size = st.ColumnInt(2);
    l.diff_id = BERTH_TRY(ParseStoredDigest(db, st.ColumnText(3)));
    l.compression = st.ColumnText(4);
    layers.push_back(std::move(l));
  }
  return layers;
}

Result<> InsertLayer(db::Database& db, int64_t entry_id, const Layer& l) {
  db::Statement st = BERTH_TRY(db.Prepare(
      "INSERT INTO layers (entry_id, seq, media_type, digest, size, diff_id, compression) "
      "VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM layers WHERE entry_id = ?1), "
      "?2, ?3, ?4, ?5, ?6) ON CONFLICT (entry_id, digest) DO NOTHING"));
  st.BindAll(entry_id, l.media_type, l.digest.ToString(), l.size, l.diff_id.ToString(),
             l.compression);
  return st.Run();
}

Result<> ValidateLayer(const Layer& l) {
  if (l.digest.empty() || l.diff_id.empty()) {
    return Error::InvalidArgument("cache: layer without digest or diff_id");
  }
  if (l.media_type.empty()) {
    return Error::InvalidArgument("cache: layer " + l.digest.ToString() + " without media type");
  }
  if (l.size < 0) {
    return Error::InvalidArgument("cache: layer " + l.digest.ToString() + " with negative size");
  }
  return {};
}

Result<> ValidateKey(const std::string& key) {
  if (key.empty()) {
    return Error::InvalidArgument("cache: empty cache key");
  }
  return {};
}

Error NotFoundKey(const std::string& project, const std::string& key) {
  return Error::NotFound("cache: no entry for key " + key +
                         (project.empty() ? std::string() : " in project " + project));
}

// The live entry's id, or nullopt.
Result<std::optional<int64_t>> LiveEntryId(db::Database& db, const std::string& project,
                                           const std::string& key) {
  db::Statement st = BERTH_TRY(
      db.Prepare("SELECT id FROM entries WHERE project = ?1 AND key = ?2 AND removing = 0"));
  st.BindAll(project, key);
  if (!BERTH_TRY(st.Step())) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(st.ColumnInt(0));
}

// Marks the entries `ids` (all of one project) as removing and works out what nothing live
// references any more. REQUIRES: inside an IMMEDIATE transaction.
Result<Removal> MarkForRemoval(db::Database& db, const std::vector<int64_t>& ids) {
  Removal removal;
  std::set<std::string> snapshots;
  std::set<digest::Digest> blobs;
  for (int64_t id : ids) {
    db::Statement mark = BERTH_TRY(
        db.Prepare("UPDATE entries SET removing = 1 WHERE id = ?1 RETURNING key, snapshot, size"));
    mark.BindAll(id);
    if (!BERTH_TRY(mark.Step())) {
      continue;
    }
    removal.keys.push_back(mark.ColumnText(0));
    snapshots.insert(mark.ColumnText(1));
    removal.bytes += mark.ColumnInt(2);
    BERTH_TRY(mark.Run());

    db::Statement layers = BERTH_TRY(db.Prepare("SELECT digest FROM layers WHERE entry_id = ?1"));
    layers.BindAll(id);
    while (BERTH_TRY(layers.Step())) {
      blobs.insert(BERTH_TRY(ParseStoredDigest(db, layers.ColumnText(0))));
    }
  }
  // Only now, with every entry marked, is "referenced by a live entry" meaningful.
  for (const std::string& snapshot : snapshots) {
    db::Statement st =
        BERTH_TRY(db.Prepare("SELECT 1 FROM entries WHERE snapshot = ?1 AND removing = 0 LIMIT 1"));
    st.BindAll(snapshot);
    if (!BERTH_TRY(st.Step())) {
      removal.snapshots.push_back(snapshot);
    }
  }
  for (const digest::Digest& blob : blobs) {
    db::Statement st =
        BERTH_TRY(db.Prepare("SELECT 1 FROM layers JOIN entries ON entries.id = layers.entry_id "
                             "WHERE layers.digest = ?1 AND entries.removing = 0 LIMIT 1"));
    st.BindAll(blob.ToString());
    if (!BERTH_TRY(st.Step())) {
      removal.blobs.push_back(blob);
    }
  }
  return removal;
}

// The ids of the project's entries already marked as removing (left by an unfinished removal).
Result<std::vector<int64_t>> MarkedIds(db::Database& db, const std::string& project) {
  db::Statement st =
      BERTH_TRY(db.Prepare("SELECT id FROM entries WHERE project = ?1 AND removing = 1"));
  st.BindAll(project);
  std::vector<int64_t> ids;
  while (BERTH_TRY(st.Step())) {
    ids.push_back(st.ColumnInt(0));
  }
  return ids;
}

}  // namespace

int SqliteIndex::SchemaVersion() {
  return std::end(kMigrations)[-1].version;
}

Result<std::unique_ptr<SqliteIndex>> SqliteIndex::Open(const SqliteIndexOptions& options) {
  if (options.path.empty()) {
    return Error::InvalidArgument("cache: no index path");
  }
  db::OpenOptions open;
  open.busy_timeout = options.busy_timeout;
  std::unique_ptr<db::ConnectionPool> pool = BERTH_TRY_CONTEXT(
      db::ConnectionPool::Open(options.path, open, kMigrations), "opening the cache index");
  return std::unique_ptr<SqliteIndex>(new SqliteIndex(std::move(pool), options.clock));
}

Result<Record> SqliteIndex::Lookup(const Context& ctx, const std::string& project,
                                   const std::string& key) {
  BERTH_TRY(ctx.Check());
  BERTH_TRY(ValidateKey(key));
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kImmediate));
  Record r;
  int64_t id;
  {
    db::Statement st = BERTH_TRY(
        db->Prepare(std::string("UPDATE entries SET last_used_at = ?3 "
                                "WHERE project = ?1 AND key = ?2 AND removing = 0 RETURNING ") +
                    kRecordColumns));
    st.BindAll(project, key, ToNanos(Now()));
    if (!BERTH_TRY(st.Step())) {
      return NotFoundKey(project, key);
    }
    id = ReadRecord(st, r);
    BERTH_TRY(st.Run());
  }
  r.layers = BERTH_TRY(ReadLayers(*db, id));
  BERTH_TRY(tx.Commit());
  return r;
}

Result<Record> SqliteIndex::Put(const Context& ctx, const std::string& project,
                                const std::string& key, const Record& record) {
  BERTH_TRY(ctx.Check());
  BERTH_TRY(ValidateKey(key));
  if (record.snapshot.empty()) {
    return Error::InvalidArgument("cache: entry " + key + " without a snapshot");
  }
  if (record.size < 0 || record.output_index < 0) {
    return Error::InvalidArgument("cache: entry " + key + " with a negative size or output index");
  }
  for (const Layer& l : record.layers) {
    BERTH_TRY(ValidateLayer(l));
  }
  Time now = Now();
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kImmediate));

  {
    db::Statement st = BERTH_TRY(
        db->Prepare("SELECT id, snapshot, removing FROM entries WHERE project = ?1 AND key = ?2"));
    st.BindAll(project, key);
    if (BERTH_TRY(st.Step())) {
      int64_t id = st.ColumnInt(0);
      std::string snapshot = st.ColumnText(1);
      bool removing = st.ColumnInt(2) != 0;
      BERTH_TRY(st.Run());
      if (!removing) {
        // First writer wins: hand back what is stored, touched as used.
        db::Statement touch = BERTH_TRY(db->Prepare(
            std::string("UPDATE entries SET last_used_at = ?2 WHERE id = ?1 RETURNING ") +
            kRecordColumns));
        touch.BindAll(id, ToNanos(now));
        Record existing;
        if (!BERTH_TRY(touch.Step())) {
          return Error::Internal("cache: entry " + key + " vanished inside a transaction");
        }
        ReadRecord(touch, existing);
        BERTH_TRY(touch.Run());
        existing.layers = BERTH_TRY(ReadLayers(*db, id));
        BERTH_TRY(tx.Commit());
        return existing;
      }
      if (snapshot == record.snapshot) {
        return Error::Unavailable("cache: entry " + key + " and its snapshot " + snapshot +
                                  " are being removed");
      }
      db::Statement del = BERTH_TRY(db->Prepare("DELETE FROM entries WHERE id = ?1"));
      del.BindAll(id);
      BERTH_TRY(del.Run());
    }
  }

  Record stored = record;
  stored.key = key;
  if (stored.created_at == Time()) {
    stored.created_at = now;
  }
  if (stored.last_used_at == Time()) {
    stored.last_used_at = now;
  }
  int64_t id;
  {
    db::Statement ins = BERTH_TRY(
        db->Prepare("INSERT INTO entries (project, key, snapshot, output_index, size, created_at, "
                    "last_used_at, description, location, platform) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id"));
    ins.BindAll(project, key, stored.snapshot, stored.output_index, stored.size,
                ToNanos(stored.created_at), ToNanos(stored.last_used_at), stored.description,
                stored.location, stored.platform);
    if (!BERTH_TRY(ins.Step())) {
      return Error::Internal("cache: INSERT returned no id");
    }
    id = ins.ColumnInt(0);
    BERTH_TRY(ins.Run());
  }
  for (const Layer& l : record.layers) {
    BERTH_TRY(InsertLayer(*db, id, l));
  }
  // Layers repeated in `record` were stored once: report what is stored.
  stored.layers = BERTH_TRY(ReadLayers(*db, id));
  BERTH_TRY(tx.Commit());
  return stored;
}

Result<> SqliteIndex::AddLayer(const Context& ctx, const std::string& project,
                               const std::string& key, const Layer& layer) {
  BERTH_TRY(ctx.Check());
  BERTH_TRY(ValidateKey(key));
  BERTH_TRY(ValidateLayer(layer));
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kImmediate));
  std::optional<int64_t> id = BERTH_TRY(LiveEntryId(*db, project, key));
  if (!id) {
    return NotFoundKey(project, key);
  }
  BERTH_TRY(InsertLayer(*db, *id, layer));
  return tx.Commit();
}

Result<std::vector<Record>> SqliteIndex::List(const Context& ctx, const std::string& project) {
  BERTH_TRY(ctx.Check());
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  // One read transaction, so that records and layers come from one snapshot of the file.
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kDeferred));
  std::vector<Record> records;
  std::map<int64_t, size_t> by_id;
  {
    db::Statement st = BERTH_TRY(db->Prepare(
        std::string("SELECT ") + kRecordColumns +
        " FROM entries WHERE project = ?1 AND removing = 0 ORDER BY last_used_at DESC, id DESC"));
    st.BindAll(project);
    while (BERTH_TRY(st.Step())) {
      Record r;
      int64_t id = ReadRecord(st, r);
      by_id[id] = records.size();
      records.push_back(std::move(r));
    }
  }
  {
    db::Statement st = BERTH_TRY(db->Prepare(
        "SELECT layers.entry_id, layers.media_type, layers.digest, layers.size, layers.diff_id, "
        "layers.compression FROM layers JOIN entries ON entries.id = layers.entry_id "
        "WHERE entries.project = ?1 AND entries.removing = 0 "
        "ORDER BY layers.entry_id, layers.seq"));
    st.BindAll(project);
    while (BERTH_TRY(st.Step())) {
      auto it = by_id.find(st.ColumnInt(0));
      if (it == by_id.end()) {
        continue;
      }
      Layer l;
      l.media_type = st.ColumnText(1);
      l.digest = BERTH_TRY(ParseStoredDigest(*db, st.ColumnText(2)));
      l.size = st.ColumnInt(3);
      l.diff_id = BERTH_TRY(ParseStoredDigest(*db, st.ColumnText(4)));
      l.compression = st.ColumnText(5);
      records[it->second].layers.push_back(std::move(l));
    }
  }
  BERTH_TRY(tx.Commit());
  return records;
}

Result<Removal> SqliteIndex::Delete(const Context& ctx, const std::string& project,
                                    const std::string& key) {
  BERTH_TRY(ctx.Check());
  BERTH_TRY(ValidateKey(key));
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kImmediate));
  std::optional<int64_t> id = BERTH_TRY(LiveEntryId(*db, project, key));
  if (!id) {
    return NotFoundKey(project, key);
  }
  Removal removal = BERTH_TRY(MarkForRemoval(*db, {*id}));
  BERTH_TRY(tx.Commit());
  return removal;
}

Result<Removal> SqliteIndex::Reset(const Context& ctx, const std::string& project) {
  BERTH_TRY(ctx.Check());
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kImmediate));
  std::vector<int64_t> ids;
  {
    db::Statement st = BERTH_TRY(db->Prepare("SELECT id FROM entries WHERE project = ?1"));
    st.BindAll(project);
    while (BERTH_TRY(st.Step())) {
      ids.push_back(st.ColumnInt(0));
    }
  }
  Removal removal = BERTH_TRY(MarkForRemoval(*db, ids));
  BERTH_TRY(tx.Commit());
  return removal;
}

Result<Removal> SqliteIndex::Evict(const Context& ctx, const std::string& project,
                                   int64_t cap_bytes, Time keep_used_since) {
  BERTH_TRY(ctx.Check());
  if (cap_bytes < 0) {
    return Error::InvalidArgument("cache: negative size cap");
  }
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kImmediate));
  std::vector<int64_t> ids = BERTH_TRY(MarkedIds(*db, project));
  int64_t total = 0;
  {
    db::Statement st = BERTH_TRY(db->Prepare(
        "SELECT COALESCE(SUM(size), 0) FROM entries WHERE project = ?1 AND removing = 0"));
    st.BindAll(project);
    if (BERTH_TRY(st.Step())) {
      total = st.ColumnInt(0);
    }
  }
  if (total > cap_bytes) {
    db::Statement st = BERTH_TRY(
        db->Prepare("SELECT id, size FROM entries WHERE project = ?1 AND removing = 0 "
                    "AND size > 0 AND last_used_at < ?2 ORDER BY last_used_at ASC, id ASC"));
    st.BindAll(project, keep_used_since == Time::max() ? std::numeric_limits<int64_t>::max()
                                                       : ToNanos(keep_used_since));
    while (total > cap_bytes && BERTH_TRY(st.Step())) {
      ids.push_back(st.ColumnInt(0));
      total -= st.ColumnInt(1);
    }
  }
  Removal removal = BERTH_TRY(MarkForRemoval(*db, ids));
  BERTH_TRY(tx.Commit());
  return removal;
}

Result<> SqliteIndex::Forget(const Context& ctx, const std::string& project,
                             const std::vector<std::string>& keys) {
  BERTH_TRY(ctx.Check());
  if (keys.empty()) {
    return {};
  }
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kImmediate));
  for (const std::string& key : keys) {
    db::Statement st = BERTH_TRY(
        db->Prepare("DELETE FROM entries WHERE project = ?1 AND key = ?2 AND removing = 1"));
    st.BindAll(project, key);
    BERTH_TRY(st.Run());
  }
  return tx.Commit();
}

Result<int64_t> SqliteIndex::TotalSize(const Context& ctx, const std::string& project) {
  BERTH_TRY(ctx.Check());
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Statement st = BERTH_TRY(db->Prepare(
      "SELECT COALESCE(SUM(size), 0) FROM entries WHERE project = ?1 AND removing = 0"));
  st.BindAll(project);
  return BERTH_TRY(st.Step()) ? st.ColumnInt(0) : int64_t{0};
}

Result<cache::GcRoots> SqliteIndex::GcRoots(const Context& ctx, const std::string& weak_prefix) {
  BERTH_TRY(ctx.Check());
  db::ConnectionPool::Handle db = BERTH_TRY(pool_->Acquire());
  db::Transaction tx = BERTH_TRY(db->Begin(db::TxMode::kDeferred));
  cache::GcRoots roots;
  {
    // substr, not LIKE: a prefix holding % or _ means itself.
    db::Statement st =
        BERTH_TRY(db->Prepare("SELECT DISTINCT snapshot FROM entries WHERE removing = 0 AND "
                              "(?1 = '' OR substr(key, 1, length(?1)) != ?1)"));
    st.BindAll(weak_prefix);
    while (BERTH_TRY(st.Step())) {
      roots.snapshots.insert(st.ColumnText(0));
    }
  }
  {
    db::Statement st =
        BERTH_TRY(db->Prepare("SELECT DISTINCT layers.digest FROM layers JOIN entries "
                              "ON entries.id = layers.entry_id WHERE entries.removing = 0"));
    while (BERTH_TRY(st.Step())) {
      roots.blobs.insert(BERTH_TRY(ParseStoredDigest(*db, st.ColumnText(0))));
    }
  }
  BERTH_TRY(tx.Commit());
  return roots;
}

}  // namespace berth::cache
