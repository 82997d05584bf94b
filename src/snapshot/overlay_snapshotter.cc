#include "snapshot/overlay_snapshotter.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "archive/apply.h"
#include "archive/tar_writer.h"
#include "base/io.h"
#include "base/scope_exit.h"
#include "os/file.h"
#include "snapshot/fs_util.h"

namespace berth::snapshot {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kView:
      return "view";
    case Kind::kActive:
      return "active";
    case Kind::kCommitted:
      return "committed";
  }
  return "unknown";
}

struct OverlaySnapshotter::Record {
  std::string name;
  std::string parent;
  Kind kind = Kind::kActive;
  uint64_t id = 0;
  // The directories stacked below this snapshot's own fs, nearest first (ids of snapshots/<id>).
  std::vector<uint64_t> lowers;
  // For a committed snapshot whose chain was flattened: the id of the directory holding its
  // whole merged tree (0: none).
  uint64_t flat = 0;
  int64_t created_unix_nano = 0;
};

namespace {

using Record = OverlaySnapshotter::Record;

// %-escapes a key into a file name: [A-Za-z0-9_.-] stay, the rest (and a leading '.') become
// %XX. Keys whose escape would pass NAME_MAX are refused.
Result<std::string> EscapeKey(const std::string& key) {
  if (key.empty()) {
    return Error::InvalidArgument("snapshot key is empty");
  }
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || (c == '.' && i > 0);
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out.append(buf);
    }
  }
  if (out.size() > 240) {
    return Error::InvalidArgument("snapshot key too long: " + key);
  }
  return out;
}

std::optional<Kind> ParseKind(const std::string& s) {
  if (s == "view") {
    return Kind::kView;
  }
  if (s == "active") {
    return Kind::kActive;
  }
  if (s == "committed") {
    return Kind::kCommitted;
  }
  return std::nullopt;
}

std::string Serialize(const Record& r) {
  nlohmann::json j;
  j["name"] = r.name;
  j["parent"] = r.parent;
  j["kind"] = std::string(KindName(r.kind));
  j["id"] = r.id;
  j["lowers"] = r.lowers;
  if (r.flat != 0) {
    j["flat"] = r.flat;
  }
  j["created"] = r.created_unix_nano;
  return j.dump() + "\n";
}

Result<Record> Parse(const std::string& text, const std::string& path) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    Record r;
    r.name = j.at("name").get<std::string>();
    r.parent = j.at("parent").get<std::string>();
    std::optional<Kind> kind = ParseKind(j.at("kind").get<std::string>());
    if (!kind) {
      return Error::DataLoss(path + ": unknown snapshot kind");
    }
    r.kind = *kind;
    r.id = j.at("id").get<uint64_t>();
    r.lowers = j.at("lowers").get<std::vector<uint64_t>>();
    r.flat = j.value("flat", uint64_t{0});
    r.created_unix_nano = j.value("created", int64_t{0});
    return r;
  } catch (const std::exception& e) {
    return Error::DataLoss(path + ": bad snapshot record: " + e.what());
  }
}

Info ToInfo(const Record& r) {
  Info info;
  info.name = r.name;
  info.parent = r.parent;
  info.kind = r.kind;
  info.created_unix_nano = r.created_unix_nano;
  return info;
}

int64_t NowUnixNano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<> MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return Error::FromErrno("mkdir " + path, errno);
  }
  return {};
}

// Copies the tree `from` onto the directory `to` (applying whiteouts when `from` is an overlay
// upper) by streaming a layer tar through a pipe: archive's writer on one thread, its applier
// on this one.
Result<> ApplyTree(const Context& ctx, const std::string& from, archive::SourceLayout layout,
                   const std::string& to) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error::FromErrno("pipe", errno);
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  Result<archive::TarStats> written = Error::Internal("tar writer did not run");
  std::thread writer([&ctx, &from, layout, &written, fd = std::move(write_end)]() mutable {
    // A reader that gave up closes its end; block SIGPIPE here so the write fails with EPIPE
    // instead of killing the process. The pending signal dies with this thread.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    FdWriter out(std::move(fd));
    archive::TarOptions options;
    options.layout = layout;
    written = archive::WriteLayerTar(ctx, from, out, options);
    (void)out.Close();
  });
  FdReader in(std::move(read_end));
  archive::ApplyOptions options;
  options.follow_symlinks_in_root = true;
  Result<archive::ApplyStats> applied = archive::ApplyLayer(ctx, in, to, options);
  // Drain whatever the writer still sends so it can finish, then join it.
  if (!applied.ok()) {
    char buf[65536];
    while (true) {
      Result<size_t> n = in.Read(buf, sizeof(buf));
      if (!n.ok() || *n == 0) {
        break;
      }
    }
  }
  writer.join();
  if (!written.ok()) {
    return std::move(written).error().AddContext("flatten: writing " + from);
  }
  if (!applied.ok()) {
    return std::move(applied).error().AddContext("flatten: applying " + from);
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<OverlaySnapshotter>> OverlaySnapshotter::Open(const std::string& root,
                                                                     OverlayOptions options) {
  if (root.empty() || root[0] != '/') {
    return Error::InvalidArgument("snapshotter root must be an absolute path: " + root);
  }
  BERTH_TRY(os::MakeDirs(root, 0700));
  BERTH_TRY(MakeDir(root + "/snapshots", 0700));
  BERTH_TRY(MakeDir(root + "/meta", 0700));
  BERTH_TRY(MakeDir(root + "/trash", 0700));
  std::unique_ptr<OverlaySnapshotter> s(new OverlaySnapshotter(root, options));
  // Start numbering after the highest id in use; AllocateId() copes with other snapshotters on
  // the same root through mkdir's EEXIST.
  uint64_t max_id = 0;
  if (DIR* dir = ::opendir((root + "/snapshots").c_str())) {
    while (struct dirent* e = ::readdir(dir)) {  // NOLINT(concurrency-mt-unsafe)
      char* end = nullptr;
      unsigned long long v = std::strtoull(e->d_name, &end, 10);
      if (end != e->d_name && *end == '\0' && v > max_id) {
        max_id = v;
      }
    }
    ::closedir(dir);
  }
  s->next_id_ = max_id + 1;
  // Finish deleting what a previous process left in the trash.
  (void)RemoveAll(root + "/trash");
  BERTH_TRY(MakeDir(root + "/trash", 0700));
  return s;
}

std::string OverlaySnapshotter::FsDir(uint64_t id) const {
  return root_ + "/snapshots/" + std::to_string(id) + "/fs";
}

std::string OverlaySnapshotter::WorkDir(uint64_t id) const {
  return root_ + "/snapshots/" + std::to_string(id) + "/work";
}

std::string OverlaySnapshotter::MetaPath(const std::string& escaped_key) const {
  return root_ + "/meta/" + escaped_key + ".json";
}

namespace {

// Reads the record of `key`; NotFound if there is none.
Result<Record> ReadRecord(const std::string& path, const std::string& key) {
  Result<std::string> text = os::ReadFile(path);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return Error::NotFound("snapshot " + key + " does not exist");
    }
    return std::move(text).error();
  }
  return Parse(*text, path);
}

}  // namespace

bool OverlaySnapshotter::Fits(const std::vector<uint64_t>& lowers) const {
  if (static_cast<int>(lowers.size()) > options_.max_lowers) {
    return false;
  }
  // The options of an active overlay over `lowers`, with the longest id we could add.
  size_t bytes = std::string("index=off,redirect_dir=off,lowerdir=").size();
  for (uint64_t id : lowers) {
    bytes += FsDir(id).size() + 1;
  }
  bytes += 2 * (std::string(",upperdir=").size() + FsDir(UINT64_MAX).size());
  return bytes <= options_.max_option_bytes;
}

std::vector<Mount> OverlaySnapshotter::MountsOf(const Record& r) const {
  if (r.lowers.empty()) {
    return {Mount{"bind", FsDir(r.id), {"rbind", r.kind == Kind::kView ? "ro" : "rw"}}};
  }
  std::string lowerdir = "lowerdir=";
  for (size_t i = 0; i < r.lowers.size(); ++i) {
    if (i > 0) {
      lowerdir.push_back(':');
    }
    lowerdir += FsDir(r.lowers[i]);
  }
  if (r.kind == Kind::kView) {
    if (r.lowers.size() == 1) {
      return {Mount{"bind", FsDir(r.lowers[0]), {"rbind", "ro"}}};
    }
    return {Mount{"overlay", "overlay", {"ro", "index=off", "redirect_dir=off", lowerdir}}};
  }
  // redirect_dir=off keeps the upper a self-contained diff (a renamed lower directory is copied
  // up instead of leaving a redirect xattr that points into the lowers); index=off because a
  // flattened chain stacks a different set of lowers below the same layers.
  return {Mount{"overlay",
                "overlay",
                {"index=off", "redirect_dir=off", "workdir=" + WorkDir(r.id),
                 "upperdir=" + FsDir(r.id), lowerdir}}};
}

Result<uint64_t> OverlaySnapshotter::AllocateId() {
  for (int attempt = 0; attempt < 1000000; ++attempt) {
    uint64_t id = next_id_.fetch_add(1);
    std::string dir = root_ + "/snapshots/" + std::to_string(id);
    if (::mkdir(dir.c_str(), 0700) == 0) {
      return id;
    }
    if (errno != EEXIST) {
      return Error::FromErrno("mkdir " + dir, errno);
    }
  }
  return Error::Internal("cannot allocate a snapshot id under " + root_);
}

Result<Info> OverlaySnapshotter::Stat(const Context& ctx, const std::string& key) {
  std::string escaped = BERTH_TRY(EscapeKey(key));
  FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
  Record r = BERTH_TRY(ReadRecord(MetaPath(escaped), key));
  return ToInfo(r);
}

Result<std::vector<Mount>> OverlaySnapshotter::Prepare(const Context& ctx, const std::string& key,
                                                       const std::string& parent) {
  return CreateSnapshot(ctx, Kind::kActive, key, parent);
}

Result<std::vector<Mount>> OverlaySnapshotter::View(const Context& ctx, const std::string& key,
                                                    const std::string& parent) {
  return CreateSnapshot(ctx, Kind::kView, key, parent);
}

Result<std::vector<Mount>> OverlaySnapshotter::CreateSnapshot(const Context& ctx, Kind kind,
                                                              const std::string& key,
                                                              const std::string& parent) {
  BERTH_TRY(ctx.Check());
  std::string escaped = BERTH_TRY(EscapeKey(key));
  std::string parent_escaped;
  if (!parent.empty()) {
    parent_escaped = BERTH_TRY(EscapeKey(parent));
  }
  // At most two rounds: the second after flattening the parent's chain.
  for (int round = 0; round < 3; ++round) {
    bool need_flatten = false;
    {
      FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
      if (os::Exists(MetaPath(escaped))) {
        return Error::AlreadyExists("snapshot " + key + " already exists");
      }
      Record r;
      r.name = key;
      r.parent = parent;
      r.kind = kind;
      r.created_unix_nano = NowUnixNano();
      if (!parent.empty()) {
        Record p = BERTH_TRY(ReadRecord(MetaPath(parent_escaped), parent));
        if (p.kind != Kind::kCommitted) {
          return Error::FailedPrecondition("parent " + parent + " is not a committed snapshot");
        }
        if (p.flat != 0) {
          r.lowers = {p.flat};
        } else {
          r.lowers.push_back(p.id);
          r.lowers.insert(r.lowers.end(), p.lowers.begin(), p.lowers.end());
          if (!Fits(r.lowers)) {
            need_flatten = true;
          }
        }
      }
      if (!need_flatten) {
        r.id = BERTH_TRY(AllocateId());
        auto undo =
            ScopeExit([&] { (void)RemoveAll(root_ + "/snapshots/" + std::to_string(r.id)); });
        BERTH_TRY(MakeDir(FsDir(r.id), 0755));
        if (kind == Kind::kActive) {
          BERTH_TRY(MakeDir(WorkDir(r.id), 0700));
        }
        BERTH_TRY(os::WriteFileAtomic(MetaPath(escaped), Serialize(r), 0600));
        undo.Cancel();
        return MountsOf(r);
      }
    }
    BERTH_TRY_CONTEXT(Flatten(ctx, parent), "flattening the chain below " + parent);
  }
  return Error::Internal("snapshot " + key + ": parent chain still too deep after flattening");
}

Result<> OverlaySnapshotter::Flatten(const Context& ctx, const std::string& parent) {
  std::string parent_escaped = BERTH_TRY(EscapeKey(parent));
  Record p;
  uint64_t flat_id = 0;
  {
    FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
    p = BERTH_TRY(ReadRecord(MetaPath(parent_escaped), parent));
    if (p.flat != 0) {
      return {};
    }
    flat_id = BERTH_TRY(AllocateId());
  }
  std::string flat_dir = root_ + "/snapshots/" + std::to_string(flat_id);
  auto undo = ScopeExit([&] { (void)RemoveAll(flat_dir); });
  BERTH_TRY(MakeDir(FsDir(flat_id), 0755));
  // The chain, nearest first: the parent's own layer, then its lowers. The farthest is a whole
  // tree (a snapshot without parents, or an earlier flattening); the rest are overlay uppers.
  // The committed snapshots in the chain cannot change or go away while `parent` exists, so no
  // lock is needed while copying.
  std::vector<uint64_t> chain = {p.id};
  chain.insert(chain.end(), p.lowers.begin(), p.lowers.end());
  BERTH_TRY(ApplyTree(ctx, FsDir(chain.back()), archive::SourceLayout::kDirectory, FsDir(flat_id)));
  for (size_t i = chain.size() - 1; i-- > 0;) {
    BERTH_TRY(ctx.Check());
    BERTH_TRY(
        ApplyTree(ctx, FsDir(chain[i]), archive::SourceLayout::kOverlayUpper, FsDir(flat_id)));
  }
  {
    FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
    Result<Record> now = ReadRecord(MetaPath(parent_escaped), parent);
    if (!now.ok()) {
      return std::move(now).error();
    }
    if (now->flat != 0) {
      return {};  // another snapshotter flattened it first; ours goes away
    }
    now->flat = flat_id;
    BERTH_TRY(os::WriteFileAtomic(MetaPath(parent_escaped), Serialize(*now), 0600));
    undo.Cancel();
  }
  flattens_++;
  return {};
}

Result<std::vector<Mount>> OverlaySnapshotter::Mounts(const Context& ctx, const std::string& key) {
  std::string escaped = BERTH_TRY(EscapeKey(key));
  FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
  Record r = BERTH_TRY(ReadRecord(MetaPath(escaped), key));
  if (r.kind == Kind::kCommitted) {
    return Error::FailedPrecondition("snapshot " + key + " is committed; View it to mount it");
  }
  return MountsOf(r);
}

Result<> OverlaySnapshotter::Commit(const Context& ctx, const std::string& name,
                                    const std::string& key) {
  std::string escaped = BERTH_TRY(EscapeKey(key));
  std::string name_escaped = BERTH_TRY(EscapeKey(name));
  uint64_t id = 0;
  {
    FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
    Record r = BERTH_TRY(ReadRecord(MetaPath(escaped), key));
    if (r.kind != Kind::kActive) {
      return Error::FailedPrecondition("snapshot " + key + " is not active");
    }
    if (os::Exists(MetaPath(name_escaped))) {
      return Error::AlreadyExists("snapshot " + name + " already exists");
    }
    r.name = name;
    r.kind = Kind::kCommitted;
    r.created_unix_nano = NowUnixNano();
    // The new record first, then the old one goes: a crash in between leaves both names on one
    // directory, which Remove of the key would break. Acceptable until the SQLite index makes
    // this one transaction.
    BERTH_TRY(os::WriteFileAtomic(MetaPath(name_escaped), Serialize(r), 0600));
    if (::unlink(MetaPath(escaped).c_str()) != 0) {
      return Error::FromErrno("unlink " + MetaPath(escaped), errno);
    }
    id = r.id;
  }
  // Overlay's work directory is scratch space of the mount; a committed layer needs none.
  (void)RemoveAll(WorkDir(id));
  return {};
}

Result<> OverlaySnapshotter::Remove(const Context& ctx, const std::string& key) {
  std::string escaped = BERTH_TRY(EscapeKey(key));
  std::vector<std::string> trashed;
  {
    FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
    Record r = BERTH_TRY(ReadRecord(MetaPath(escaped), key));
    // Refuse while a child exists. Only committed snapshots can be parents (CreateSnapshot
    // takes a committed parent), so active and view snapshots skip the scan of every record.
    std::string child;
    Result<> walked;
    if (r.kind == Kind::kCommitted) {
      walked = Walk(ctx, [&](const Info& info) -> Result<> {
        if (info.parent == key) {
          child = info.name;
          return Error(ErrorCode::kAborted, "found a child");
        }
        return {};
      });
    }
    if (!child.empty()) {
      return Error::FailedPrecondition("snapshot " + key + " has a child: " + child);
    }
    if (!walked.ok()) {
      return std::move(walked).error();
    }
    if (::unlink(MetaPath(escaped).c_str()) != 0) {
      return Error::FromErrno("unlink " + MetaPath(escaped), errno);
    }
    for (uint64_t id : {r.id, r.flat}) {
      if (id == 0) {
        continue;
      }
      std::string from = root_ + "/snapshots/" + std::to_string(id);
      std::string to = root_ + "/trash/" + std::to_string(id) + "-" + std::to_string(NowUnixNano());
      if (::rename(from.c_str(), to.c_str()) != 0) {
        return Error::FromErrno("rename " + from, errno);
      }
      trashed.push_back(to);
    }
  }
  // Deleting happens outside the lock. (Deleting right before an unpack slows ext4 here; a lazy
  // trash collector comes with GC.)
  for (const std::string& dir : trashed) {
    BERTH_TRY(RemoveAll(dir));
  }
  return {};
}

Result<std::vector<std::string>> OverlaySnapshotter::RemoveMany(
    const Context& ctx, const std::vector<std::string>& keys) {
  std::vector<std::string> removed;
  std::vector<std::string> trashed;
  {
    FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
    std::map<std::string, std::string> parent_of;
    std::map<std::string, int> children;
    BERTH_TRY(Walk(ctx, [&](const Info& info) -> Result<> {
      parent_of[info.name] = info.parent;
      if (!info.parent.empty()) {
        ++children[info.parent];
      }
      return {};
    }));
    std::set<std::string> wanted(keys.begin(), keys.end());
    for (bool progress = true; progress;) {
      progress = false;
      for (auto it = wanted.begin(); it != wanted.end();) {
        auto parent = parent_of.find(*it);
        if (parent == parent_of.end()) {
          it = wanted.erase(it);  // absent
          continue;
        }
        if (children[*it] > 0) {
          ++it;
          continue;
        }
        BERTH_TRY(ctx.Check());
        std::string escaped = BERTH_TRY(EscapeKey(*it));
        Record r = BERTH_TRY(ReadRecord(MetaPath(escaped), *it));
        if (::unlink(MetaPath(escaped).c_str()) != 0) {
          return Error::FromErrno("unlink " + MetaPath(escaped), errno);
        }
        for (uint64_t id : {r.id, r.flat}) {
          if (id == 0) {
            continue;
          }
          std::string from = root_ + "/snapshots/" + std::to_string(id);
          std::string to =
              root_ + "/trash/" + std::to_string(id) + "-" + std::to_string(NowUnixNano());
          if (::rename(from.c_str(), to.c_str()) != 0) {
            return Error::FromErrno("rename " + from, errno);
          }
          trashed.push_back(to);
        }
        if (!parent->second.empty()) {
          --children[parent->second];
        }
        removed.push_back(*it);
        parent_of.erase(parent);
        it = wanted.erase(it);
        progress = true;
      }
    }
  }
  // Deleting happens outside the lock, as in Remove.
  for (const std::string& dir : trashed) {
    BERTH_TRY(RemoveAll(dir));
  }
  return removed;
}

Result<> OverlaySnapshotter::Walk(const Context& ctx,
                                  const std::function<Result<>(const Info&)>& fn) {
  std::string meta = root_ + "/meta";
  DIR* dir = ::opendir(meta.c_str());
  if (dir == nullptr) {
    return Error::FromErrno("opendir " + meta, errno);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dir)) {  // NOLINT(concurrency-mt-unsafe)
    std::string n = e->d_name;
    if (n.size() > 5 && n.ends_with(".json")) {
      names.push_back(std::move(n));
    }
  }
  ::closedir(dir);
  for (const std::string& n : names) {
    Result<std::string> text = os::ReadFile(meta + "/" + n);
    if (!text.ok()) {
      if (text.error().code() == ErrorCode::kNotFound) {
        continue;  // removed meanwhile
      }
      return std::move(text).error();
    }
    Record r = BERTH_TRY(Parse(*text, meta + "/" + n));
    BERTH_TRY(fn(ToInfo(r)));
  }
  return {};
}

Result<DiskUsage> OverlaySnapshotter::Usage(const Context& ctx, const std::string& key) {
  std::string escaped = BERTH_TRY(EscapeKey(key));
  Record r;
  {
    FileLockGuard lock = BERTH_TRY(FileLockGuard::Acquire(root_ + "/lock"));
    r = BERTH_TRY(ReadRecord(MetaPath(escaped), key));
  }
  TreeUsage u = BERTH_TRY(TreeDiskUsage(FsDir(r.id)));
  return DiskUsage{u.bytes, u.inodes};
}

}  // namespace berth::snapshot
