#include "graph/graph.h"

#include "base/strings.h"

#include <nlohmann/json.hpp>

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace berth::graph {
namespace {

using nlohmann::json;

const char* MountTypeName(MountType t) {
  switch (t) {
    case MountType::kBind: return "bind";
    case MountType::kCache: return "cache";
    case MountType::kTmpfs: return "tmpfs";
    case MountType::kSecret: return "secret";
    case MountType::kSsh: return "ssh";
  }
  return "bind";
}

const char* SharingName(CacheSharing s) {
  switch (s) {
    case CacheSharing::kShared: return "shared";
    case CacheSharing::kPrivate: return "private";
    case CacheSharing::kLocked: return "locked";
  }
  return "shared";
}

const char* NetworkName(NetworkMode n) {
  switch (n) {
    case NetworkMode::kDefault: return "default";
    case NetworkMode::kNone: return "none";
    case NetworkMode::kHost: return "host";
  }
  return "default";
}

json ChownJson(const std::optional<ChownOpt>& chown) {
  if (!chown) {
    return nullptr;
  }
  return json{{"user", chown->user}, {"group", chown->group}};
}

json MountJson(const Mount& m) {
  json j{{"type", MountTypeName(m.type)}, {"dest", m.dest}, {"output", m.output}};
  if (m.input) {
    j["input"] = *m.input;
  }
  if (!m.selector.empty()) {
    j["selector"] = m.selector;
  }
  if (m.readonly) {
    j["readonly"] = true;
  }
  switch (m.type) {
    case MountType::kCache:
      j["cache_id"] = m.cache_id;
      j["sharing"] = SharingName(m.sharing);
      break;
    case MountType::kSecret:
    case MountType::kSsh:
      j["id"] = m.secret_id;
      if (!m.secret_env.empty()) {
        j["env"] = m.secret_env;
      }
      j["optional"] = m.optional;
      break;
    case MountType::kTmpfs:
      j["size"] = m.size;
      break;
    case MountType::kBind: break;
  }
  if (m.type != MountType::kBind && m.type != MountType::kTmpfs) {
    j["uid"] = m.uid;
    j["gid"] = m.gid;
    if (m.mode_set) {
      j["mode"] = m.mode;
    }
  }
  return j;
}

json ActionJson(const FileAction& action) {
  return std::visit(
      [](const auto& a) -> json {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, CopyAction>) {
          json j{{"action", "copy"},
                 {"src_input", a.src_input},
                 {"src", a.src},
                 {"dest", a.dest},
                 {"chown", ChownJson(a.chown)},
                 {"chmod", a.chmod},
                 {"follow_symlinks", a.follow_symlinks},
                 {"dir_copy_contents", a.dir_copy_contents},
                 {"attempt_unpack", a.attempt_unpack},
                 {"create_dest_path", a.create_dest_path},
                 {"allow_wildcard", a.allow_wildcard},
                 {"allow_empty_wildcard", a.allow_empty_wildcard},
                 {"parents", a.parents},
                 {"include", a.include_patterns},
                 {"exclude", a.exclude_patterns},
                 {"timestamp", a.timestamp}};
          return j;
        } else if constexpr (std::is_same_v<T, MkdirAction>) {
          return json{{"action", "mkdir"},       {"path", a.path},
                      {"mode", a.mode},          {"make_parents", a.make_parents},
                      {"chown", ChownJson(a.chown)}, {"timestamp", a.timestamp}};
        } else if constexpr (std::is_same_v<T, MkfileAction>) {
          return json{{"action", "mkfile"}, {"path", a.path},
                      {"mode", a.mode},     {"data", a.data},
                      {"chown", ChownJson(a.chown)}, {"timestamp", a.timestamp}};
        } else if constexpr (std::is_same_v<T, RmAction>) {
          return json{{"action", "rm"},
                      {"path", a.path},
                      {"allow_not_found", a.allow_not_found},
                      {"allow_wildcard", a.allow_wildcard}};
        } else {
          return json{{"action", "symlink"}, {"oldpath", a.oldpath}, {"newpath", a.newpath}};
        }
      },
      action);
}

// The op's own fields (no inputs, no metadata).
json OpBodyJson(const Op& op) {
  return std::visit(
      [](const auto& o) -> json {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, SourceOp>) {
          return json{{"identifier", o.identifier}, {"attrs", o.attrs}};
        } else if constexpr (std::is_same_v<T, ExecOp>) {
          json mounts = json::array();
          for (const Mount& m : o.mounts) {
            mounts.push_back(MountJson(m));
          }
          return json{{"args", o.args},
                      {"env", o.env},
                      {"cwd", o.cwd},
                      {"user", o.user},
                      {"network", NetworkName(o.network)},
                      {"security", o.security == SecurityMode::kInsecure ? "insecure" : "sandbox"},
                      {"extra_hosts", o.extra_hosts},
                      {"mounts", mounts}};
        } else if constexpr (std::is_same_v<T, FileOp>) {
          json actions = json::array();
          for (const FileAction& a : o.actions) {
            actions.push_back(ActionJson(a));
          }
          return json{{"base_input", o.base_input}, {"actions", actions}};
        } else {
          return json::object();
        }
      },
      op.op);
}

std::string RefString(const Graph& g, const Ref& ref) {
  if (ref.scratch()) {
    return "scratch";
  }
  return g.vertex(ref.vertex).digest.ToString() + "#" + std::to_string(ref.output);
}

json PlatformJson(const Platform& p) {
  return json{{"os", p.os}, {"architecture", p.architecture}, {"variant", p.variant}};
}

}  // namespace

std::string Platform::ToString() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) {
    out += "/" + variant;
  }
  return out;
}

Platform Normalize(Platform p) {
  p.os = ToLower(p.os);
  p.architecture = ToLower(p.architecture);
  p.variant = ToLower(p.variant);
  if (p.os == "macos") {
    p.os = "darwin";
  }
  const std::string& a = p.architecture;
  if (a == "i386" || a == "x86") {
    p.architecture = "386";
  } else if (a == "x86_64" || a == "x86-64") {
    p.architecture = "amd64";
  } else if (a == "aarch64" || a == "arm64") {
    p.architecture = "arm64";
    if (p.variant == "8" || p.variant == "v8" || p.variant == "v8.0") {
      p.variant.clear();
    }
  } else if (a == "armhf") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (a == "armel") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (a == "arm") {
    if (p.variant.empty() || p.variant == "7") {
      p.variant = "v7";
    } else if (p.variant == "5" || p.variant == "6" || p.variant == "8") {
      p.variant = "v" + p.variant;
    }
  }
  return p;
}

Result<Platform> ParsePlatform(std::string_view text) {
  std::vector<std::string> parts = StrSplit(text, '/');
  for (const std::string& part : parts) {
    if (part.empty()) {
      return Error::InvalidArgument("invalid platform \"" + std::string(text) +
                                    "\": want os/arch[/variant]");
    }
    for (char c : part) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-' && c != '.') {
        return Error::InvalidArgument("invalid platform \"" + std::string(text) +
                                      "\": unexpected character");
      }
    }
  }
  Platform p;
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
  } else if (parts.size() == 2 || parts.size() == 3) {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) {
      p.variant = parts[2];
    }
  } else {
    return Error::InvalidArgument("invalid platform \"" + std::string(text) +
                                  "\": want os/arch[/variant]");
  }
  return Normalize(p);
}

Platform HostPlatform() {
  struct utsname u {};
  Platform p{"linux", "amd64", ""};
  if (::uname(&u) == 0) {
    p.architecture = u.machine;
  }
  return Normalize(p);
}

const char* KindName(const Op& op) {
  switch (op.op.index()) {
    case 0: return "source";
    case 1: return "exec";
    case 2: return "file";
    default: return "merge";
  }
}

std::string Graph::CanonicalBytes(const Op& op) const {
  json inputs = json::array();
  for (const Ref& ref : op.inputs) {
    inputs.push_back(RefString(*this, ref));
  }
  json j{{"kind", KindName(op)},
         {"inputs", inputs},
         {"platform", PlatformJson(op.platform)},
         {"op", OpBodyJson(op)}};
  // Strings that are not valid UTF-8 (a Dockerfile may contain any bytes) are replaced rather
  // than rejected: digests must be total.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
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
    json inputs = json::array();
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
                         {"op", OpBodyJson(v.op)},
                         {"metadata", meta}});
  }
  out["vertices"] = verts;
  if (target) {
    out["target"] = RefString(*this, *target);
  }
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace berth::graph
