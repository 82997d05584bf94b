#include "graph/graph.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace berth::graph {
namespace {

// Writes the canonical serialisation: JSON with keys in a fixed (sorted) order, no whitespace,
// strings escaped minimally. Bytes that are not valid UTF-8 are written as they are, so distinct
// strings always give distinct bytes (the result is then not strict JSON, which only the debug
// printer cares about). Appends to one buffer: no per-field allocation.
class Canon {
 public:
  explicit Canon(std::string* out) : out_(*out) {}

  Canon& Key(std::string_view key) {
    Sep();
    Quote(key);
    out_ += ':';
    first_ = true;
    return *this;
  }
  Canon& Str(std::string_view s) {
    Sep();
    Quote(s);
    return *this;
  }
  Canon& Int(int64_t v) {
    Sep();
    out_ += std::to_string(v);
    return *this;
  }
  Canon& Bool(bool v) {
    Sep();
    out_ += v ? "true" : "false";
    return *this;
  }
  Canon& Null() {
    Sep();
    out_ += "null";
    return *this;
  }
  Canon& Open(char c) {
    Sep();
    out_ += c;
    first_ = true;
    return *this;
  }
  Canon& Close(char c) {
    out_ += c;
    first_ = false;
    return *this;
  }
  Canon& Strings(const std::vector<std::string>& list) {
    Open('[');
    for (const std::string& s : list) {
      Str(s);
    }
    return Close(']');
  }

 private:
  void Quote(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (u < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out_ += "\\u00";
        out_ += kHex[u >> 4];
        out_ += kHex[u & 0xF];
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }
  // A comma before every value or key but the first in its container.
  void Sep() {
    if (!first_) {
      out_ += ',';
    }
    first_ = false;
  }

  std::string& out_;
  bool first_ = true;
};

const char* MountTypeName(MountType t) {
  switch (t) {
    case MountType::kBind:
      return "bind";
    case MountType::kCache:
      return "cache";
    case MountType::kTmpfs:
      return "tmpfs";
    case MountType::kSecret:
      return "secret";
    case MountType::kSsh:
      return "ssh";
  }
  return "bind";
}

const char* SharingName(CacheSharing s) {
  switch (s) {
    case CacheSharing::kShared:
      return "shared";
    case CacheSharing::kPrivate:
      return "private";
    case CacheSharing::kLocked:
      return "locked";
  }
  return "shared";
}

const char* NetworkName(NetworkMode n) {
  switch (n) {
    case NetworkMode::kDefault:
      return "default";
    case NetworkMode::kNone:
      return "none";
    case NetworkMode::kHost:
      return "host";
  }
  return "default";
}

void WriteChown(Canon& w, const std::optional<ChownOpt>& chown) {
  if (!chown) {
    w.Null();
    return;
  }
  w.Open('{').Key("group").Str(chown->group).Key("user").Str(chown->user).Close('}');
}

void WriteMount(Canon& w, const Mount& m) {
  w.Open('{');
  bool ids = m.type == MountType::kCache;
  bool secret = m.type == MountType::kSecret || m.type == MountType::kSsh;
  if (ids) {
    w.Key("cache_id").Str(m.cache_id);
  }
  w.Key("dest").Str(m.dest);
  if (secret) {
    w.Key("env").Str(m.secret_env);
  }
  if (ids || secret) {
    w.Key("gid").Int(m.gid);
  }
  if (secret) {
    w.Key("id").Str(m.secret_id);
  }
  if (m.input) {
    w.Key("input").Int(*m.input);
  }
  if ((ids || secret) && m.mode_set) {
    w.Key("mode").Int(m.mode);
  }
  if (secret) {
    w.Key("optional").Bool(m.optional);
  }
  w.Key("output").Int(m.output);
  w.Key("readonly").Bool(m.readonly);
  w.Key("selector").Str(m.selector);
  if (ids) {
    w.Key("sharing").Str(SharingName(m.sharing));
  }
  if (m.type == MountType::kTmpfs) {
    w.Key("size").Int(static_cast<int64_t>(m.size));
  }
  w.Key("type").Str(MountTypeName(m.type));
  if (ids || secret) {
    w.Key("uid").Int(m.uid);
  }
  w.Close('}');
}

void WriteAction(Canon& w, const FileAction& action) {
  w.Open('{');
  std::visit(
      [&w](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, CopyAction>) {
          w.Key("action").Str("copy");
          w.Key("allow_empty_wildcard").Bool(a.allow_empty_wildcard);
          w.Key("allow_wildcard").Bool(a.allow_wildcard);
          w.Key("attempt_unpack").Bool(a.attempt_unpack);
          w.Key("chmod").Str(a.chmod);
          w.Key("chown");
          WriteChown(w, a.chown);
          w.Key("create_dest_path").Bool(a.create_dest_path);
          w.Key("dest").Str(a.dest);
          w.Key("dir_copy_contents").Bool(a.dir_copy_contents);
          w.Key("exclude").Strings(a.exclude_patterns);
          w.Key("follow_symlinks").Bool(a.follow_symlinks);
          w.Key("include").Strings(a.include_patterns);
          w.Key("parents").Bool(a.parents);
          w.Key("src").Str(a.src);
          w.Key("src_input").Int(a.src_input);
          w.Key("timestamp").Int(a.timestamp);
        } else if constexpr (std::is_same_v<T, MkdirAction>) {
          w.Key("action").Str("mkdir");
          w.Key("chown");
          WriteChown(w, a.chown);
          w.Key("make_parents").Bool(a.make_parents);
          w.Key("mode").Int(a.mode);
          w.Key("path").Str(a.path);
          w.Key("timestamp").Int(a.timestamp);
        } else if constexpr (std::is_same_v<T, MkfileAction>) {
          w.Key("action").Str("mkfile");
          w.Key("chown");
          WriteChown(w, a.chown);
          w.Key("data").Str(a.data);
          w.Key("mode").Int(a.mode);
          w.Key("path").Str(a.path);
          w.Key("timestamp").Int(a.timestamp);
        } else if constexpr (std::is_same_v<T, RmAction>) {
          w.Key("action").Str("rm");
          w.Key("allow_not_found").Bool(a.allow_not_found);
          w.Key("allow_wildcard").Bool(a.allow_wildcard);
          w.Key("path").Str(a.path);
        } else {
          w.Key("action").Str("symlink");
          w.Key("newpath").Str(a.newpath);
          w.Key("oldpath").Str(a.oldpath);
        }
      },
      action);
  w.Close('}');
}

// The op's own fields (no inputs, no metadata).
void WriteBody(Canon& w, const Op& op) {
  w.Open('{');
  std::visit(
      [&w](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, SourceOp>) {
          w.Key("attrs").Open('{');
          for (const auto& [k, v] : o.attrs) {
            w.Key(k).Str(v);
          }
          w.Close('}');
          w.Key("identifier").Str(o.identifier);
        } else if constexpr (std::is_same_v<T, ExecOp>) {
          w.Key("args").Strings(o.args);
          w.Key("cwd").Str(o.cwd);
          w.Key("env").Strings(o.env);
          w.Key("extra_hosts").Strings(o.extra_hosts);
          w.Key("mounts").Open('[');
          for (const Mount& m : o.mounts) {
            WriteMount(w, m);
          }
          w.Close(']');
          w.Key("network").Str(NetworkName(o.network));
          w.Key("security").Str(o.security == SecurityMode::kInsecure ? "insecure" : "sandbox");
          w.Key("user").Str(o.user);
        } else if constexpr (std::is_same_v<T, FileOp>) {
          w.Key("actions").Open('[');
          for (const FileAction& a : o.actions) {
            WriteAction(w, a);
          }
          w.Close(']');
          w.Key("base_input").Int(o.base_input);
        }
      },
      op.op);
  w.Close('}');
}

std::string RefString(const Graph& g, const Ref& ref) {
  if (ref.scratch()) {
    return "scratch";
  }
  return g.vertex(ref.vertex).digest.ToString() + "#" + std::to_string(ref.output);
}

// Parses canonical bytes for display; bytes that are not UTF-8 show as U+FFFD.
nlohmann::json ParseForDisplay(const std::string& bytes) {
  nlohmann::json j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    return j;
  }
  std::string clean;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    clean += c < 0x80 ? static_cast<char>(c) : '?';
  }
  j = nlohmann::json::parse(clean, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return nlohmann::json{{"op", bytes.size()}};
  }
  return j;
}

}  // namespace

const char* KindName(const Op& op) {
  switch (op.op.index()) {
    case 0:
      return "source";
    case 1:
      return "exec";
    case 2:
      return "file";
    default:
      return "merge";
  }
}

std::string Graph::CanonicalBytes(const Op& op) const {
  std::string out;
  out.reserve(512);
  Canon w(&out);
  w.Open('{');
  w.Key("inputs").Open('[');
  for (const Ref& ref : op.inputs) {
    w.Str(RefString(*this, ref));
  }
  w.Close(']');
  w.Key("kind").Str(KindName(op));
  w.Key("op");
  WriteBody(w, op);
  w.Key("platform").Open('{');
  w.Key("architecture").Str(op.platform.architecture);
  w.Key("os").Str(op.platform.os);
  w.Key("variant").Str(op.platform.variant);
  w.Close('}');
  w.Close('}');
  return out;
}

Result<VertexId> Graph::Add(Op op, Metadata metadata) {
  for (const Ref& ref : op.inputs) {
    if (!ref.scratch() && (ref.vertex >= static_cast<VertexId>(vertices_.size()))) {
      return Error::InvalidArgument("graph: input vertex " + std::to_string(ref.vertex) +
                                    " does not exist");
    }
  }
  digest::Digest d = digest::FromBytes(CanonicalBytes(op));
  if (auto it = by_digest_.find(d); it != by_digest_.end()) {
    Metadata& existing = vertices_[static_cast<size_t>(it->second)].metadata;
    for (const Location& loc : metadata.locations) {
      if (std::find(existing.locations.begin(), existing.locations.end(), loc) ==
          existing.locations.end()) {
        existing.locations.push_back(loc);
      }
    }
    existing.ignore_cache = existing.ignore_cache || metadata.ignore_cache;
    return it->second;
  }
  auto id = static_cast<VertexId>(vertices_.size());
  vertices_.push_back(Vertex{std::move(op), std::move(metadata), d});
  by_digest_.emplace(d, id);
  return id;
}

std::vector<VertexId> Graph::Closure(Ref target) const {
  // Vertices are added inputs-first, so sorting the reachable set by id is a topological order.
  std::set<VertexId> seen;
  std::vector<VertexId> stack;
  if (!target.scratch()) {
    stack.push_back(target.vertex);
  }
  while (!stack.empty()) {
    VertexId id = stack.back();
    stack.pop_back();
    if (!seen.insert(id).second) {
      continue;
    }
    for (const Ref& in : vertex(id).op.inputs) {
      if (!in.scratch()) {
        stack.push_back(in.vertex);
      }
    }
  }
  return {seen.begin(), seen.end()};
}

std::string Graph::ToJson(std::optional<Ref> target) const {
  using nlohmann::json;
  std::vector<VertexId> ids;
  if (target) {
    ids = Closure(*target);
  } else {
    for (size_t i = 0; i < vertices_.size(); ++i) {
      ids.push_back(static_cast<VertexId>(i));
    }
  }
  json out = json::object();
  json verts = json::array();
  for (VertexId id : ids) {
    const Vertex& v = vertex(id);
    nlohmann::json inputs = nlohmann::json::array();
    for (const Ref& ref : v.op.inputs) {
      inputs.push_back(RefString(*this, ref));
    }
    json locations = json::array();
    for (const Location& loc : v.metadata.locations) {
      locations.push_back(
          json{{"file", loc.file}, {"start_line", loc.start_line}, {"end_line", loc.end_line}});
    }
    json meta{{"description", v.metadata.description}, {"locations", locations}};
    if (!v.metadata.stage.empty()) {
      meta["stage"] = v.metadata.stage;
    }
    if (v.metadata.ignore_cache) {
      meta["ignore_cache"] = true;
    }
    verts.push_back(json{{"digest", v.digest.ToString()},
                         {"kind", KindName(v.op)},
                         {"inputs", inputs},
                         {"platform", v.op.platform.ToString()},
                         {"op", ParseForDisplay(CanonicalBytes(v.op))["op"]},
                         {"metadata", meta}});
  }
  out["vertices"] = verts;
  if (target) {
    out["target"] = RefString(*this, *target);
  }
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace berth::graph
