// Compose files -> targets, with the field mapping of buildx's bake/compose.go: every service
// with `build` becomes a target named after it (dots replaced by underscores) and joins the
// `default` group. Strings are interpolated as compose does (${VAR}, ${VAR:-default},
// ${VAR:?error}, $$) from the environment given (process environment, .env, --var). Several
// compose files merge target by target with Target::Merge (compose-go merges its model first;
// for the fields bake reads the outcome is the same except that lists such as tags replace
// rather than append).
#include <cmath>
#include <cstdio>
#include <set>

#include <yaml-cpp/yaml.h>

#include "base/strings.h"
#include "frontend/bake/loader.h"

namespace berth::frontend::bake::internal {

namespace {

using Env = std::map<std::string, std::string>;

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

Result<std::string> Interpolate(std::string_view s, const Env& env, int depth = 0) {
  if (depth > 8) {
    return Error::InvalidArgument("interpolation nested too deeply");
  }
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '$' || i + 1 >= s.size()) {
      out += s[i++];
      continue;
    }
    char next = s[i + 1];
    if (next == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (IsNameChar(next, true)) {
      size_t j = i + 1;
      while (j < s.size() && IsNameChar(s[j], false)) {
        ++j;
      }
      auto it = env.find(std::string(s.substr(i + 1, j - i - 1)));
      if (it != env.end()) {
        out += it->second;
      }
      i = j;
      continue;
    }
    if (next != '{') {
      out += s[i++];
      continue;
    }
    // ${...}: find the matching brace.
    size_t j = i + 2;
    int level = 1;
    while (j < s.size() && level > 0) {
      if (s[j] == '{') {
        ++level;
      } else if (s[j] == '}') {
        --level;
      }
      if (level > 0) {
        ++j;
      }
    }
    if (j >= s.size()) {
      return Error::InvalidArgument("invalid interpolation format for " + QuoteString(s) +
                                    ": missing closing brace");
    }
    std::string_view inner = s.substr(i + 2, j - i - 2);
    size_t n = 0;
    while (n < inner.size() && IsNameChar(inner[n], n == 0)) {
      ++n;
    }
    if (n == 0) {
      return Error::InvalidArgument("invalid interpolation format for " + QuoteString(s));
    }
    const std::string name(inner.substr(0, n));
    std::string_view rest = inner.substr(n);
    auto it = env.find(name);
    const bool set = it != env.end();
    const bool non_empty = set && !it->second.empty();
    if (rest.empty()) {
      if (set) {
        out += it->second;
      }
    } else {
      const bool colon = rest[0] == ':';
      if (colon) {
        rest.remove_prefix(1);
      }
      if (rest.empty()) {
        return Error::InvalidArgument("invalid interpolation format for " + QuoteString(s));
      }
      const char op = rest[0];
      std::string_view arg = rest.substr(1);
      const bool present = colon ? non_empty : set;
      if (op == '-') {
        out += present ? it->second : BERTH_TRY(Interpolate(arg, env, depth + 1));
      } else if (op == '?') {
        if (!present) {
          return Error::InvalidArgument("required variable " + name + " is missing a value: " +
                                        BERTH_TRY(Interpolate(arg, env, depth + 1)));
        }
        out += it->second;
      } else if (op == '+') {
        if (present) {
          out += BERTH_TRY(Interpolate(arg, env, depth + 1));
        }
      } else {
        return Error::InvalidArgument("invalid interpolation format for " + QuoteString(s));
      }
    }
    i = j + 1;
  }
  return out;
}

std::string Where(const std::string& file, const YAML::Node& node) {
  YAML::Mark m = node.Mark();
  if (m.is_null()) {
    return file;
  }
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

class ComposeReader {
 public:
  ComposeReader(std::string file, const Env& env) : file_(std::move(file)), env_(env) {}

  const std::string& file() const { return file_; }

  Error Fail(const YAML::Node& node, const std::string& message) const {
    return Error::InvalidArgument(Where(file_, node) + ": " + message);
  }

  Result<std::string> Str(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) {
      return Fail(node, what + " must be a string");
    }
    Result<std::string> s = Interpolate(node.Scalar(), env_);
    if (!s.ok()) {
      return Fail(node, s.error().message());
    }
    return s;
  }

  Result<bool> Bool(const YAML::Node& node, const std::string& what) const {
    std::string s = BERTH_TRY(Str(node, what));
    if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") {
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") {
      return false;
    }
    return Fail(node, what + " must be a boolean");
  }

  Result<std::vector<std::string>> List(const YAML::Node& node, const std::string& what) const {
    std::vector<std::string> out;
    if (node.IsNull()) {
      return out;
    }
    if (!node.IsSequence()) {
      return Fail(node, what + " must be a list");
    }
    for (const YAML::Node& e : node) {
      out.push_back(BERTH_TRY(Str(e, what + " entry")));
    }
    return out;
  }

  // x-bake's string arrays: a list, or one string split at white space.
  Result<std::vector<std::string>> Fields(const YAML::Node& node, const std::string& what) const {
    if (node.IsScalar()) {
      std::string s = BERTH_TRY(Str(node, what));
      std::vector<std::string> out;
      std::string cur;
      for (char c : s) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
          if (!cur.empty()) {
            out.push_back(std::move(cur));
            cur.clear();
          }
        } else {
          cur += c;
        }
      }
      if (!cur.empty()) {
        out.push_back(std::move(cur));
      }
      return out;
    }
    return List(node, what);
  }

  // A mapping given as a map or as a list of "key=value" ("key" alone: null value).
  Result<std::map<std::string, std::optional<std::string>>> Mapping(const YAML::Node& node,
                                                                    const std::string& what,
                                                                    char sep = '=') const {
    std::map<std::string, std::optional<std::string>> out;
    if (node.IsNull()) {
      return out;
    }
    if (node.IsMap()) {
      for (const auto& kv : node) {
        std::string key = BERTH_TRY(Str(kv.first, what + " key"));
        if (kv.second.IsNull()) {
          out[key] = std::nullopt;
        } else {
          out[key] = BERTH_TRY(Str(kv.second, what + " value"));
        }
      }
      return out;
    }
    if (node.IsSequence()) {
      for (const YAML::Node& e : node) {
        std::string s = BERTH_TRY(Str(e, what + " entry"));
        bool found = false;
        auto [k, v] = SplitOnce(s, sep, &found);
        out[k] = found ? std::optional<std::string>(v) : std::nullopt;
      }
      return out;
    }
    return Fail(node, what + " must be a mapping or a list");
  }

 private:
  std::string file_;
  const Env& env_;
};

// go-units RAMInBytes: "128m", "1.5g", "1024" (binary multipliers).
std::optional<int64_t> RamInBytes(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) {
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  char* end = nullptr;
  const std::string number = text.substr(0, i);
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || number.front() == '.' || number.back() == '.') {
    return std::nullopt;
  }
  std::string unit = ToLower(Trim(text.substr(i)));
  static const std::string kUnits = "kmgtp";
  double mult = 1;
  if (!unit.empty() && kUnits.find(unit[0]) != std::string::npos) {
    mult = std::pow(1024.0, static_cast<double>(kUnits.find(unit[0]) + 1));
    unit.erase(0, 1);
  }
  if (unit == "ib" || unit == "b" || unit == "i" || unit.empty()) {
    double bytes = value * mult;
    if (!(bytes < 9.2e18)) {
      return std::nullopt;
    }
    return static_cast<int64_t>(bytes);
  }
  return std::nullopt;
}

// go-units BytesSize (docker's MemBytes.String): "%.4g" of the value in binary units.
std::string BytesSize(double size) {
  static const char* kAbbrs[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  int i = 0;
  while (size >= 1024 && i < 8) {
    size /= 1024;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4g%s", size, kAbbrs[i]);
  return buf;
}

std::string NamedContext(const std::string& value) {
  if (value.starts_with("service:") || value.starts_with("target:")) {
    return "target:" + SanitizeTargetName(SplitOnce(value, ':').second);
  }
  return value;
}

void AppendUnique(StringList* list, const std::vector<std::string>& items) {
  if (!*list) {
    *list = std::vector<std::string>();
  }
  for (const std::string& s : items) {
    if (std::find((*list)->begin(), (*list)->end(), s) == (*list)->end()) {
      (*list)->push_back(s);
    }
  }
}

// Appends, later entries replacing earlier ones with the same key (buildflags' Merge).
void MergeKeyed(StringList* list, const std::vector<std::string>& items, std::string_view field) {
  if (!*list) {
    *list = std::vector<std::string>();
  }
  for (const std::string& s : items) {
    const std::string key = EntryKey(field, s);
    std::erase_if(**list, [&](const std::string& e) { return EntryKey(field, e) == key; });
    (*list)->push_back(s);
  }
}

Result<> ApplyXBake(const ComposeReader& r, const YAML::Node& x, Target* t) {
  if (!x.IsMap()) {
    return r.Fail(x, "x-bake must be a mapping");
  }
  for (const auto& kv : x) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node& v = kv.second;
    if (key == "tags") {
      AppendUnique(&t->tags, BERTH_TRY(r.Fields(v, "x-bake.tags")));
    } else if (key == "cache-from") {
      AppendUnique(&t->cache_from, BERTH_TRY(r.Fields(v, "x-bake.cache-from")));
    } else if (key == "cache-to") {
      AppendUnique(&t->cache_to, BERTH_TRY(r.Fields(v, "x-bake.cache-to")));
    } else if (key == "secret") {
      MergeKeyed(&t->secret, BERTH_TRY(r.Fields(v, "x-bake.secret")), "secret");
    } else if (key == "ssh") {
      MergeKeyed(&t->ssh, BERTH_TRY(r.Fields(v, "x-bake.ssh")), "ssh");
      std::sort(t->ssh->begin(), t->ssh->end());
    } else if (key == "platforms") {
      AppendUnique(&t->platforms, BERTH_TRY(r.Fields(v, "x-bake.platforms")));
    } else if (key == "output") {
      AppendUnique(&t->output, BERTH_TRY(r.Fields(v, "x-bake.output")));
    } else if (key == "pull") {
      t->pull = BERTH_TRY(r.Bool(v, "x-bake.pull"));
    } else if (key == "no-cache") {
      t->no_cache = BERTH_TRY(r.Bool(v, "x-bake.no-cache"));
    } else if (key == "no-cache-filter") {
      AppendUnique(&t->no_cache_filter, BERTH_TRY(r.Fields(v, "x-bake.no-cache-filter")));
    } else if (key == "contexts") {
      auto m = BERTH_TRY(r.Mapping(v, "x-bake.contexts"));
      for (const auto& [k, value] : m) {
        // dedupMap: the service's additional_contexts win.
        t->contexts.emplace(k, NamedContext(value.value_or("")));
      }
    } else {
      return r.Fail(kv.first, "unknown x-bake field " + QuoteString(key));
    }
  }
  return {};
}

Result<Target> ServiceTarget(const ComposeReader& r, const std::string& name,
                             const YAML::Node& service, const YAML::Node& secrets, const Env& env) {
  Target t;
  t.name = SanitizeTargetName(name);
  if (!IsValidTargetName(t.name)) {
    return r.Fail(service, "invalid service name " + QuoteString(t.name) +
                               ": only \"[a-zA-Z0-9_-]+\" are allowed");
  }
  t.location = Where(r.file(), service);
  const YAML::Node build = service["build"];
  // The service environment, for args given without a value.
  std::map<std::string, std::optional<std::string>> environment;
  if (service["environment"]) {
    environment = BERTH_TRY(r.Mapping(service["environment"], "environment"));
  }
  if (build.IsScalar()) {
    t.context = BERTH_TRY(r.Str(build, "build"));
  } else if (!build.IsMap()) {
    return r.Fail(build, "build must be a string or a mapping");
  } else {
    for (const auto& kv : build) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const YAML::Node& v = kv.second;
      if (v.IsNull() && key != "args") {
        continue;
      }
      if (key == "context") {
        std::string s = BERTH_TRY(r.Str(v, "build.context"));
        if (!s.empty()) {
          t.context = s;
        }
      } else if (key == "dockerfile") {
        std::string s = BERTH_TRY(r.Str(v, "build.dockerfile"));
        if (!s.empty()) {
          t.dockerfile = s;
        }
      } else if (key == "dockerfile_inline") {
        std::string s = BERTH_TRY(r.Str(v, "build.dockerfile_inline"));
        if (!s.empty()) {
          t.dockerfile_inline = s;
        }
      } else if (key == "args") {
        auto args = BERTH_TRY(r.Mapping(v, "build.args"));
        for (auto& [k, value] : args) {
          if (!value) {
            auto e = environment.find(k);
            if (e != environment.end() && e->second) {
              value = e->second;
            } else if (auto g = env.find(k); g != env.end()) {
              value = g->second;
            }
          }
          if (value) {
            t.args[k] = value;
          }
        }
      } else if (key == "labels") {
        for (auto& [k, value] : BERTH_TRY(r.Mapping(v, "build.labels"))) {
          t.labels[k] = value.value_or("");
        }
      } else if (key == "tags") {
        t.tags = BERTH_TRY(r.List(v, "build.tags"));
      } else if (key == "cache_from") {
        t.cache_from = BERTH_TRY(r.List(v, "build.cache_from"));
      } else if (key == "cache_to") {
        t.cache_to = BERTH_TRY(r.List(v, "build.cache_to"));
      } else if (key == "network") {
        std::string s = BERTH_TRY(r.Str(v, "build.network"));
        if (!s.empty()) {
          t.network = s;
        }
      } else if (key == "platforms") {
        t.platforms = BERTH_TRY(r.List(v, "build.platforms"));
      } else if (key == "target") {
        std::string s = BERTH_TRY(r.Str(v, "build.target"));
        if (!s.empty()) {
          t.target = s;
        }
      } else if (key == "shm_size") {
        std::string s = BERTH_TRY(r.Str(v, "build.shm_size"));
        std::optional<int64_t> bytes = RamInBytes(s);
        if (!bytes) {
          return r.Fail(v, "invalid size " + QuoteString(s) + " for build.shm_size");
        }
        if (*bytes > 0) {
          t.shm_size = BytesSize(static_cast<double>(*bytes));
        }
      } else if (key == "ulimits") {
        if (!v.IsMap()) {
          return r.Fail(v, "build.ulimits must be a mapping");
        }
        std::map<std::string, std::string> limits;
        for (const auto& u : v) {
          std::string uname = BERTH_TRY(r.Str(u.first, "ulimit name"));
          std::string soft;
          std::string hard;
          if (u.second.IsMap()) {
            soft = BERTH_TRY(r.Str(u.second["soft"], "ulimit soft"));
            hard = BERTH_TRY(r.Str(u.second["hard"], "ulimit hard"));
          } else {
            soft = hard = BERTH_TRY(r.Str(u.second, "ulimit"));
          }
          for (const std::string* n : {&soft, &hard}) {
            if (n->empty() || n->find_first_not_of("-0123456789") != std::string::npos) {
              return r.Fail(u.second, "invalid ulimit value " + QuoteString(*n));
            }
          }
          limits[uname] = uname + "=" + soft + ":" + hard;
        }
        t.ulimits = std::vector<std::string>();
        for (auto& [k, s] : limits) {
          t.ulimits->push_back(s);
        }
      } else if (key == "extra_hosts") {
        std::map<std::string, std::vector<std::string>> hosts;
        if (v.IsMap()) {
          for (const auto& h : v) {
            std::string host = BERTH_TRY(r.Str(h.first, "extra host"));
            if (h.second.IsSequence()) {
              for (const std::string& ip : BERTH_TRY(r.List(h.second, "extra host"))) {
                hosts[host].push_back(ip);
              }
            } else {
              hosts[host].push_back(BERTH_TRY(r.Str(h.second, "extra host")));
            }
          }
        } else {
          for (const std::string& e : BERTH_TRY(r.List(v, "build.extra_hosts"))) {
            const char sep = e.find('=') != std::string::npos ? '=' : ':';
            auto [host, ip] = SplitOnce(e, sep);
            hosts[host].push_back(ip);
          }
        }
        for (const auto& [host, ips] : hosts) {
          t.extra_hosts[host] = StrJoin(ips, ",");
        }
      } else if (key == "ssh") {
        std::vector<std::string> keys;
        for (const auto& [id, path] : BERTH_TRY(r.Mapping(v, "build.ssh"))) {
          keys.push_back(path && !path->empty() ? id + "=" + *path : id);
        }
        std::sort(keys.begin(), keys.end());
        t.ssh = std::move(keys);
      } else if (key == "secrets") {
        if (!v.IsSequence()) {
          return r.Fail(v, "build.secrets must be a list");
        }
        t.secret = std::vector<std::string>();
        for (const YAML::Node& s : v) {
          std::string source = s.IsMap() ? BERTH_TRY(r.Str(s["source"], "secret source"))
                                         : BERTH_TRY(r.Str(s, "secret"));
          const YAML::Node def = secrets.IsMap() ? secrets[source] : YAML::Node();
          std::string entry = "id=" + source;
          if (def.IsMap()) {
            if (def["external"] && BERTH_TRY(r.Bool(def["external"], "secret external"))) {
              return r.Fail(s, "unsupported external secret " + source);
            }
            if (def["file"]) {
              entry += ",src=" + BERTH_TRY(r.Str(def["file"], "secret file"));
            } else if (def["environment"]) {
              entry += ",env=" + BERTH_TRY(r.Str(def["environment"], "secret environment"));
            }
          }
          t.secret->push_back(std::move(entry));
        }
      } else if (key == "no_cache") {
        if (BERTH_TRY(r.Bool(v, "build.no_cache"))) {
          t.no_cache = true;
        }
      } else if (key == "pull") {
        if (BERTH_TRY(r.Bool(v, "build.pull"))) {
          t.pull = true;
        }
      } else if (key == "additional_contexts") {
        for (const auto& [k, value] : BERTH_TRY(r.Mapping(v, "build.additional_contexts"))) {
          t.contexts[k] = NamedContext(value.value_or(""));
        }
      } else if (key == "sbom" || key == "provenance") {
        std::string s = BERTH_TRY(r.Str(v, "build." + key));
        std::string entry = "type=" + key;
        if (s == "false") {
          entry += ",disabled=true";
        } else if (s != "true" && !s.empty()) {
          entry += "," + s;
        }
        if (!t.attest) {
          t.attest = std::vector<std::string>();
        }
        t.attest->push_back(entry);
      }
      // Other compose build fields (isolation, privileged, ...) have no bake equivalent.
    }
    if (build["x-bake"] && !build["x-bake"].IsNull()) {
      BERTH_TRY(ApplyXBake(r, build["x-bake"], &t));
    }
  }
  if ((!t.tags || t.tags->empty()) && service["image"] && service["image"].IsScalar()) {
    std::string image = BERTH_TRY(r.Str(service["image"], "image"));
    if (!image.empty()) {
      t.tags = std::vector<std::string>{image};
    }
  }
  return t;
}

Result<Config> LoadOne(const BakeFile& f, const Env& env) {
  YAML::Node root;
  try {
    root = YAML::Load(f.data);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      return Error::InvalidArgument(f.name + ": " + e.msg);
    }
    return Error::InvalidArgument(f.name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                  std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsMap() || (!root["services"] && !root["secrets"])) {
    return Error::InvalidArgument(f.name + ": empty compose file");
  }
  ComposeReader r(f.name, env);
  Config c;
  const YAML::Node services = root["services"];
  if (!services || services.IsNull()) {
    return c;
  }
  if (!services.IsMap()) {
    return r.Fail(services, "services must be a mapping");
  }
  Group g;
  g.name = "default";
  for (const auto& kv : services) {
    std::string name = BERTH_TRY(r.Str(kv.first, "service name"));
    if (!kv.second.IsMap() || !kv.second["build"]) {
      continue;
    }
    Target t = BERTH_TRY(ServiceTarget(r, name, kv.second, root["secrets"], env));
    g.targets.push_back(t.name);
    MergeConfig(&c, Config{{std::move(t)}, {}});
  }
  c.groups.push_back(std::move(g));
  return c;
}

}  // namespace

bool LooksLikeCompose(std::string_view text) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return root.IsMap() && (root["services"] || root["secrets"]);
  } catch (const std::exception&) {
    return false;
  }
}

Result<std::map<std::string, std::string>> ParseDotEnv(std::string_view text, const Env& env) {
  std::map<std::string, std::string> out;
  int line_no = 0;
  for (const std::string& raw : StrSplit(text, '\n')) {
    ++line_no;
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.starts_with("export ")) {
      line = Trim(line.substr(7));
    }
    bool found = false;
    auto [key, value] = SplitOnce(line, '=', &found);
    key = std::string(Trim(key));
    if (key.empty()) {
      return Error::InvalidArgument(".env line " + std::to_string(line_no) + ": missing name");
    }
    std::string v(Trim(value));
    if (!v.empty() && (v.front() == '\'' || v.front() == '"')) {
      const char q = v.front();
      size_t end = v.find(q, 1);
      if (end == std::string::npos) {
        return Error::InvalidArgument(".env line " + std::to_string(line_no) +
                                      ": unterminated quote");
      }
      std::string inner = v.substr(1, end - 1);
      if (q == '"') {
        std::string unescaped;
        for (size_t i = 0; i < inner.size(); ++i) {
          if (inner[i] == '\\' && i + 1 < inner.size()) {
            char c = inner[++i];
            unescaped += c == 'n' ? '\n' : c == 't' ? '\t' : c;
          } else {
            unescaped += inner[i];
          }
        }
        Env scope = env;
        for (const auto& [k, val] : out) {
          scope.emplace(k, val);
        }
        inner = BERTH_TRY(Interpolate(unescaped, scope));
      }
      v = inner;
    } else {
      if (size_t hash = v.find(" #"); hash != std::string::npos) {
        v = std::string(Trim(v.substr(0, hash)));
      }
      Env scope = env;
      for (const auto& [k, val] : out) {
        scope.emplace(k, val);
      }
      v = BERTH_TRY(Interpolate(v, scope));
    }
    out[key] = v;
  }
  return out;
}

Result<Config> LoadCompose(const std::vector<const BakeFile*>& files, const Env& env) {
  Config out;
  for (const BakeFile* f : files) {
    Result<Config> c = [&]() -> Result<Config> {
      try {
        return LoadOne(*f, env);
      } catch (const std::exception& e) {
        // yaml-cpp throws from node accessors on malformed documents (e.g. a bad subscript).
        return Error::InvalidArgument(f->name + ": " + e.what());
      }
    }();
    if (!c.ok()) {
      return std::move(c).error();
    }
    MergeConfig(&out, std::move(c).value());
  }
  return out;
}

}  // namespace berth::frontend::bake::internal
