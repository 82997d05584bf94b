// The build graph: a DAG of operations modelled on BuildKit's LLB.
//
// Frontends (the Dockerfile frontend today, bake tomorrow) emit a Graph; the solver walks it from
// a target output. Four kinds of op:
//   Source  an input from outside: an image, the local build context, a git repository, an
//           HTTP(S) file, or scratch;
//   Exec    a command run in a container over a root filesystem and extra mounts;
//   File    copy / mkdir / mkfile / rm / symlink actions on filesystems;
//   Merge   layers stacked in order without copying (`COPY --link`).
// Every op has a canonical serialisation (JSON with sorted keys, metadata excluded) that embeds
// the digests of its inputs, so a vertex's digest names the op and everything it depends on:
// the same Dockerfile and options give the same digests, and any change to an op changes its
// digest and the digests of everything downstream. Metadata (description, Dockerfile location,
// cache policy) travels beside the op and does not enter the digest.
//
// Graph is a value type; Add() deduplicates identical ops. Not thread-safe while being built.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "digest/digest.h"
#include "platform/platform.h"

namespace berth::graph {

using VertexId = int32_t;

// An output of a vertex: Exec ops have one output per writable mount (0 = the root fs).
struct Ref {
  VertexId vertex = -1;  // -1: scratch (empty filesystem)
  int32_t output = 0;
  bool scratch() const { return vertex < 0; }
  friend bool operator==(const Ref&, const Ref&) = default;
};

// Platforms live one layer down (platform/), shared with the OCI types.
using platform::HostPlatform;
using platform::Normalize;
using platform::ParsePlatform;
using platform::Platform;

// ---- Source ----

struct SourceOp {
  // "docker-image://docker.io/library/busybox:latest", "local://context",
  // "git://github.com/x/y.git#ref", "https://host/file".
  std::string identifier;
  // Per-scheme attributes, e.g. local: "includepatterns", "excludepatterns", "followpaths";
  // http: "checksum", "filename", "chmod"; git: "keepgitdir"; image: "resolvemode".
  std::map<std::string, std::string> attrs;
};

// ---- Exec ----

enum class MountType { kBind, kCache, kTmpfs, kSecret, kSsh };
enum class CacheSharing { kShared, kPrivate, kLocked };
enum class NetworkMode { kDefault, kNone, kHost };
enum class SecurityMode { kSandbox, kInsecure };

struct Mount {
  MountType type = MountType::kBind;
  // For bind (and cache with from=): which input supplies the files; nullopt = scratch.
  std::optional<int32_t> input;  // index into Op::inputs
  std::string selector;          // path inside the input ("" = its root)
  std::string dest;              // where it appears in the container
  bool readonly = false;
  // The output index this mount produces, or -1 if its changes are discarded.
  int32_t output = -1;
  // cache
  std::string cache_id;
  CacheSharing sharing = CacheSharing::kShared;
  // secret / ssh
  std::string secret_id;   // also the ssh id
  std::string secret_env;  // RUN --mount=type=secret,env=VAR
  bool optional = false;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t mode = 0;  // 0: the default for the type
  bool mode_set = false;
  // tmpfs
  uint64_t size = 0;  // bytes; 0 = unlimited
};

struct ExecOp {
  std::vector<std::string> args;
  std::vector<std::string> env;  // "K=V", in order
  std::string cwd = "/";
  std::string user;  // "" = root
  NetworkMode network = NetworkMode::kDefault;
  SecurityMode security = SecurityMode::kSandbox;
  std::vector<std::string> extra_hosts;  // "host=ip"
  std::vector<Mount> mounts;             // mounts[0] is the root filesystem at "/"
};

// ---- File ----

struct ChownOpt {
  std::string user;  // name or numeric, resolved against the target's /etc/passwd
  std::string group;
  friend bool operator==(const ChownOpt&, const ChownOpt&) = default;
};

struct CopyAction {
  int32_t src_input = -1;  // index into Op::inputs (-1 = scratch)
  std::string src;         // path or glob in the source
  std::string dest;        // path in the destination (a trailing "/" means directory)
  std::optional<ChownOpt> chown;
  std::string chmod;              // "" or octal / symbolic as written
  bool follow_symlinks = true;    // for the named source itself
  bool dir_copy_contents = true;  // copying a dir copies its contents (Dockerfile COPY)
  bool attempt_unpack = false;    // ADD of a local archive
  bool create_dest_path = true;
  bool allow_wildcard = true;
  bool allow_empty_wildcard = false;
  bool parents = false;  // COPY --parents
  std::vector<std::string> include_patterns;
  std::vector<std::string> exclude_patterns;
  int64_t timestamp = -1;  // -1: keep; else clamp to this Unix time
};

struct MkdirAction {
  std::string path;
  uint32_t mode = 0755;
  bool make_parents = true;
  std::optional<ChownOpt> chown;
  int64_t timestamp = -1;
};

struct MkfileAction {
  std::string path;
  uint32_t mode = 0644;
  std::string data;
  std::optional<ChownOpt> chown;
  int64_t timestamp = -1;
};

struct RmAction {
  std::string path;
  bool allow_not_found = true;
  bool allow_wildcard = true;
};

struct SymlinkAction {
  std::string oldpath;
  std::string newpath;
};

using FileAction = std::variant<CopyAction, MkdirAction, MkfileAction, RmAction, SymlinkAction>;

struct FileOp {
  // Actions apply in order to the filesystem from Op::inputs[0] (or scratch if there are no
  // inputs or `base_input` is -1); copies read from other inputs.
  int32_t base_input = 0;
  std::vector<FileAction> actions;
};

// ---- Merge ----

struct MergeOp {};  // the inputs, stacked in order (later ones win)

// ---- Vertex ----

struct Location {
  std::string file;  // "Dockerfile"
  int start_line = 0;
  int end_line = 0;
  friend bool operator==(const Location&, const Location&) = default;
};

struct Metadata {
  std::string description;  // "[build 2/4] RUN make"
  std::vector<Location> locations;
  bool ignore_cache = false;  // --no-cache / --no-cache-filter
  std::string stage;          // stage name or index
};

struct Op {
  std::vector<Ref> inputs;
  Platform platform;
  std::variant<SourceOp, ExecOp, FileOp, MergeOp> op;
};

struct Vertex {
  Op op;
  Metadata metadata;
  digest::Digest digest;  // over the canonical serialisation, inputs by digest
};

class Graph {
 public:
  // Adds `op` (its inputs must already be in the graph) and returns its id. An op identical to
  // one already present returns the existing id; its metadata is merged (locations appended,
  // ignore_cache or-ed). InvalidArgument if an input does not exist.
  Result<VertexId> Add(Op op, Metadata metadata);

  const std::vector<Vertex>& vertices() const { return vertices_; }
  const Vertex& vertex(VertexId id) const { return vertices_.at(static_cast<size_t>(id)); }

  // The canonical serialisation of `op` as it would be stored at `id`: the bytes its digest is
  // taken over.
  std::string CanonicalBytes(const Op& op) const;

  // The vertices `target` depends on, itself included, in topological order (inputs first).
  std::vector<VertexId> Closure(Ref target) const;

  // The graph (or the closure of `target`) as pretty JSON for `berth debug graph`: vertices with
  // digest, kind, inputs (by digest), op fields and metadata.
  std::string ToJson(std::optional<Ref> target = std::nullopt) const;

 private:
  std::vector<Vertex> vertices_;
  std::map<digest::Digest, VertexId> by_digest_;
};

// A short kind name: "source", "exec", "file", "merge".
const char* KindName(const Op& op);

}  // namespace berth::graph
