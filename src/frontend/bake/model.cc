#include "frontend/bake/model.h"

#include <algorithm>
#include <functional>
#include <set>

#include "base/strings.h"
#include "frontend/bake/loader.h"
#include "os/file.h"

namespace berth::frontend::bake {

namespace {

void Append(StringList* into, const StringList& from) {
  if (!from) {
    return;
  }
  if (!*into) {
    *into = std::vector<std::string>();
  }
  (*into)->insert((*into)->end(), from->begin(), from->end());
}

// Later entries replace earlier ones with the same key (attest type, secret or ssh id), at the
// later entry's position.
void DedupByKey(StringList* list, std::string_view field) {
  if (!*list) {
    return;
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto it = (*list)->rbegin(); it != (*list)->rend(); ++it) {
    if (it->empty()) {
      continue;
    }
    if (seen.insert(internal::EntryKey(field, *it)).second) {
      out.push_back(*it);
    }
  }
  std::reverse(out.begin(), out.end());
  **list = std::move(out);
}

// buildx's removeDupesStr: first occurrence wins, empty strings dropped.
void RemoveDupes(StringList* list) {
  if (!*list) {
    return;
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::string& s : **list) {
    if (!s.empty() && seen.insert(s).second) {
      out.push_back(std::move(s));
    }
  }
  **list = std::move(out);
}

void MergeNullable(NullableMap* into, const NullableMap& from) {
  for (const auto& [k, v] : from) {
    if (v) {
      (*into)[k] = v;
    }
  }
}

template <typename T>
void Replace(std::optional<T>* into, const std::optional<T>& from) {
  if (from) {
    *into = from;
  }
}

// The value of `key=` in a CSV entry like "type=registry,ref=x" ("" when absent).
std::string CsvField(const std::string& entry, std::string_view key) {
  for (const std::string& part : StrSplit(entry, ',')) {
    auto [k, v] = SplitOnce(Trim(part), '=');
    if (k == key) {
      return v;
    }
  }
  return "";
}

// Sets `key=value` in a CSV entry, replacing an existing field.
std::string SetCsvField(const std::string& entry, const std::string& key,
                        const std::string& value) {
  std::vector<std::string> parts = StrSplit(entry, ',');
  bool found = false;
  for (std::string& part : parts) {
    if (SplitOnce(part, '=').first == key) {
      part = key + "=" + value;
      found = true;
    }
  }
  if (!found) {
    parts.push_back(key + "=" + value);
  }
  return StrJoin(parts, ",");
}

// An output's type: `type=` of the CSV form, "local" for a bare path (buildx's -o dir).
std::string OutputType(const std::string& entry) {
  if (entry.find('=') == std::string::npos) {
    return "local";
  }
  return CsvField(entry, "type");
}

// Go's strconv.ParseBool.
std::optional<bool> ParseBool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") {
    return true;
  }
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return std::nullopt;
}

std::vector<std::string> SetPushOverride(std::vector<std::string> outputs, bool push) {
  std::vector<std::string> out;
  if (!push) {
    for (std::string& o : outputs) {
      const std::string type = OutputType(o);
      if (type == "registry") {
        continue;
      }
      out.push_back(type == "image" ? SetCsvField(o, "push", "false") : o);
    }
    return out;
  }
  bool add = true;
  for (std::string& o : outputs) {
    const std::string type = OutputType(o);
    if (type != "docker") {
      add = false;
    }
    out.push_back(type == "image" ? SetCsvField(o, "push", "true") : o);
  }
  if (add) {
    out.push_back("type=image,push=true");
  }
  return out;
}

std::vector<std::string> SetLoadOverride(std::vector<std::string> outputs, bool load) {
  if (!load) {
    return outputs;
  }
  for (const std::string& o : outputs) {
    const std::string type = OutputType(o);
    if (type == "docker") {
      if (CsvField(o, "dest").empty()) {
        return outputs;
      }
    } else if (type != "image" && type != "registry" && type != "oci") {
      return outputs;
    }
  }
  outputs.push_back("type=docker");
  return outputs;
}

bool IsListKey(const std::string& key) {
  static const std::set<std::string> kListKeys = {
      "output", "cache-to", "cache-from",   "tags",        "platform",        "secrets",
      "ssh",    "attest",   "entitlements", "annotations", "no-cache-filter", "ulimits"};
  return kListKeys.contains(key);
}

// buildx's AddOverrides, one target.
Result<> ApplyOverrides(Target* t, const std::map<std::string, Override>& overrides) {
  for (const auto& entry : overrides) {
    // Named variables rather than a structured binding: clang 14 cannot capture bindings.
    const std::string& key = entry.first;
    const Override& o = entry.second;
    const std::string& value = o.value;
    auto [head, rest] = SplitOnce(key, '.');
    const bool has_name = key.find('.') != std::string::npos;
    auto list = [&](StringList* field) {
      if (o.append) {
        Append(field, o.values);
      } else {
        *field = o.values;
      }
    };
    auto need_name = [&](const char* what) -> Result<> {
      if (!has_name) {
        return Error::InvalidArgument(std::string("invalid format for ") + what + ", expecting " +
                                      what + ".<name>=<value>");
      }
      return {};
    };
    auto boolean = [&](const char* what) -> Result<bool> {
      std::optional<bool> b = ParseBool(value);
      if (!b) {
        return Error::InvalidArgument("invalid value " + value + " for boolean key " + what);
      }
      return *b;
    };
    if (head == "context") {
      t->context = value;
    } else if (head == "dockerfile") {
      t->dockerfile = value;
    } else if (head == "args") {
      BERTH_TRY(need_name("args"));
      t->args[rest] = value;
    } else if (head == "contexts") {
      BERTH_TRY(need_name("contexts"));
      t->contexts[rest] = value;
    } else if (head == "labels") {
      BERTH_TRY(need_name("labels"));
      t->labels[rest] = value;
    } else if (head == "extra-hosts") {
      BERTH_TRY(need_name("extra-hosts"));
      t->extra_hosts[rest] = value;
    } else if (head == "tags") {
      list(&t->tags);
    } else if (head == "cache-from") {
      list(&t->cache_from);
    } else if (head == "cache-to") {
      list(&t->cache_to);
    } else if (head == "target") {
      t->target = value;
    } else if (head == "call") {
      t->call = value;
    } else if (head == "secrets") {
      list(&t->secret);
    } else if (head == "ssh") {
      list(&t->ssh);
    } else if (head == "platform") {
      list(&t->platforms);
    } else if (head == "output") {
      list(&t->output);
    } else if (head == "entitlements") {
      Append(&t->entitlements, o.values);
    } else if (head == "annotations") {
      Append(&t->annotations, o.values);
    } else if (head == "attest") {
      Append(&t->attest, o.values);
      DedupByKey(&t->attest, "attest");
    } else if (head == "no-cache") {
      t->no_cache = BERTH_TRY(boolean("no-cache"));
    } else if (head == "no-cache-filter") {
      list(&t->no_cache_filter);
    } else if (head == "shm-size") {
      t->shm_size = value;
    } else if (head == "ulimits") {
      list(&t->ulimits);
    } else if (head == "network") {
      t->network = value;
    } else if (head == "pull") {
      t->pull = BERTH_TRY(boolean("pull"));
    } else if (head == "push") {
      t->output = SetPushOverride(t->output.value_or(std::vector<std::string>()),
                                  BERTH_TRY(boolean("push")));
    } else if (head == "load") {
      t->output = SetLoadOverride(t->output.value_or(std::vector<std::string>()),
                                  BERTH_TRY(boolean("load")));
    } else if (head == "project_id") {
      t->project_id = value;
    } else {
      return Error::InvalidArgument("unknown key: " + head);
    }
  }
  return {};
}

std::string AvailableTargets(const Config& config) {
  std::vector<std::string> names;
  for (const Target& t : config.targets) {
    names.push_back(t.name);
  }
  for (const Group& g : config.groups) {
    names.push_back(g.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.empty()) {
    return "the bake files define no targets";
  }
  return "available targets and groups: " + StrJoin(names, ", ");
}

std::string Located(const std::string& location, const std::string& message) {
  return location.empty() ? message : location + ": " + message;
}

class TargetResolver {
 public:
  TargetResolver(const Config& config, const Overrides& overrides)
      : config_(config), overrides_(overrides) {}

  // buildx's Config.target: inherits merged in order, then the target itself, then the
  // overrides for this name.
  Result<Target> Resolve(const std::string& name, const std::string& from_location) {
    if (auto it = done_.find(name); it != done_.end()) {
      return it->second;
    }
    const Target* t = config_.FindTarget(name);
    if (t == nullptr) {
      return Error::NotFound(Located(
          from_location, "failed to find target " + name + " (" + AvailableTargets(config_) + ")"));
    }
    if (std::find(stack_.begin(), stack_.end(), name) != stack_.end()) {
      std::vector<std::string> path(std::find(stack_.begin(), stack_.end(), name), stack_.end());
      path.push_back(name);
      return Error::InvalidArgument(
          Located(from_location, "inherits cycle: " + StrJoin(path, " -> ")));
    }
    stack_.push_back(name);
    Target inherited;
    for (const std::string& parent : t->inherits) {
      Result<Target> p = Resolve(parent, t->inherits_location);
      if (!p.ok()) {
        stack_.pop_back();
        return std::move(p).error();
      }
      inherited.Merge(*p);
    }
    stack_.pop_back();
    Target merged;
    merged.Merge(inherited);
    merged.Merge(*t);
    merged.name = t->name;
    merged.location = t->location;
    merged.inherits_location = t->inherits_location;
    if (auto o = overrides_.find(name); o != overrides_.end()) {
      BERTH_TRY_CONTEXT(ApplyOverrides(&merged, o->second), "--set for target " + name);
    }
    merged.Normalize();
    done_[name] = merged;
    return merged;
  }

 private:
  const Config& config_;
  const Overrides& overrides_;
  std::vector<std::string> stack_;
  std::map<std::string, Target> done_;
};

// buildx's ResolveTarget: inherits cleared and the defaults filled in.
Result<Target> ResolveTarget(const Config& config, const Overrides& overrides,
                             const std::string& name, const std::string& from_location) {
  TargetResolver resolver(config, overrides);
  Target t = BERTH_TRY(resolver.Resolve(name, from_location));
  t.inherits.clear();
  if (!t.context) {
    t.context = ".";
  }
  if (!t.dockerfile || t.dockerfile->empty()) {
    t.dockerfile = "Dockerfile";
  }
  return t;
}

// buildx's group(): the targets and groups a name stands for, nested groups expanded.
Result<> ExpandGroup(const Config& config, const std::string& name, std::vector<std::string>* stack,
                     std::vector<std::string>* targets, std::vector<std::string>* groups) {
  const Group* g = config.FindGroup(name);
  if (g == nullptr) {
    targets->push_back(name);
    return {};
  }
  if (std::find(stack->begin(), stack->end(), name) != stack->end()) {
    std::vector<std::string> path(std::find(stack->begin(), stack->end(), name), stack->end());
    path.push_back(name);
    return Error::InvalidArgument(Located(g->location, "group cycle: " + StrJoin(path, " -> ")));
  }
  stack->push_back(name);
  groups->push_back(name);
  for (const std::string& t : g->targets) {
    BERTH_TRY(ExpandGroup(config, t, stack, targets, groups));
  }
  stack->pop_back();
  return {};
}

std::vector<std::string> Dedup(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& s : in) {
    if (seen.insert(s).second) {
      out.push_back(s);
    }
  }
  return out;
}

// buildx's loadLinks: targets named by `target:` contexts join the selection (output
// cacheonly), cycles are errors, entitlements flow to the user.
Result<> LoadLinks(const Resolved& resolved, const std::string& name,
                   std::map<std::string, Target>* targets, std::vector<std::string> visited) {
  visited.push_back(name);
  std::vector<std::string> linked;
  for (const auto& [key, value] : targets->at(name).contexts) {
    if (value.starts_with("target:")) {
      linked.push_back(value.substr(7));
    }
  }
  for (const std::string& other : linked) {
    const std::string location = targets->at(name).location;
    if (other == name) {
      return Error::InvalidArgument(
          Located(location, "target " + other + " cannot link to itself"));
    }
    if (std::find(visited.begin(), visited.end(), other) != visited.end()) {
      return Error::InvalidArgument(
          Located(location, "infinite loop from " + name + " to " + other));
    }
    if (!targets->contains(other)) {
      Target t = BERTH_TRY(
          ResolveTarget(resolved.config, resolved.overrides, other, targets->at(name).location));
      t.output = std::vector<std::string>{"type=cacheonly"};
      t.linked = true;
      targets->emplace(other, std::move(t));
    }
    BERTH_TRY(LoadLinks(resolved, other, targets, visited));
    Target& user = targets->at(name);
    const Target& dep = targets->at(other);
    if (dep.entitlements) {
      for (const std::string& e : *dep.entitlements) {
        if (!user.entitlements) {
          user.entitlements = std::vector<std::string>();
        }
        if (std::find(user.entitlements->begin(), user.entitlements->end(), e) ==
            user.entitlements->end()) {
          user.entitlements->push_back(e);
        }
      }
    }
    if (user.platforms && dep.platforms && user.platforms->size() > 1 &&
        dep.platforms->size() > 1) {
      for (const std::string& p : *user.platforms) {
        if (std::find(dep.platforms->begin(), dep.platforms->end(), p) == dep.platforms->end()) {
          return Error::InvalidArgument(Located(
              location, "target " + other + " can't be used by " + name +
                            " because its platforms [" + StrJoin(*user.platforms, " ") +
                            "] are not a subset of [" + StrJoin(*dep.platforms, " ") + "]"));
        }
      }
    }
  }
  return {};
}

// buildx's newOverrides.
Result<Overrides> ParseOverrides(const Config& config, const std::vector<std::string>& sets,
                                 const std::map<std::string, std::string>& env) {
  Overrides m;
  for (const std::string& v : sets) {
    bool has_value = false;
    auto [lhs, value] = SplitOnce(v, '=', &has_value);
    const bool append = lhs.ends_with("+");
    const std::string skey = append ? lhs.substr(0, lhs.size() - 1) : lhs;
    std::vector<std::string> keys;
    {
      auto [k0, r0] = SplitOnce(skey, '.');
      keys.push_back(k0);
      if (skey.find('.') != std::string::npos) {
        bool more = false;
        auto [k1, r1] = SplitOnce(r0, '.', &more);
        keys.push_back(k1);
        if (more) {
          keys.push_back(r1);
        }
      }
    }
    if (keys.size() < 2) {
      return Error::InvalidArgument("invalid override key " + skey + ", expected target.name");
    }
    if (!has_value && keys[1] != "args") {
      return Error::InvalidArgument("invalid override " + v + ", expected target.name=value");
    }
    const std::string& pattern = keys[0];
    std::vector<std::string> names;
    if (config.FindTarget(pattern) != nullptr) {
      names.push_back(pattern);
    } else {
      for (const Target& t : config.targets) {
        if (internal::PathMatch(pattern, t.name)) {
          names.push_back(t.name);
        }
      }
    }
    if (names.empty()) {
      return Error::NotFound("could not find any target matching '" + pattern + "'");
    }
    std::string okey = keys[1];
    if (keys.size() == 3) {
      okey += "." + keys[2];
    }
    for (const std::string& name : names) {
      Override o;
      if (auto t = m.find(name); t != m.end()) {
        if (auto k = t->second.find(okey); k != t->second.end()) {
          o = k->second;
        }
      }
      if (IsListKey(keys[1])) {
        if (has_value) {
          o.append = append;
          o.values.push_back(value);
        }
      } else {
        if (keys[1] == "args" || keys[1] == "contexts") {
          if (keys.size() != 3) {
            return Error::InvalidArgument("invalid key " + lhs + ", " + keys[1] + " requires name");
          }
        }
        if (keys[1] == "args" && !has_value) {
          auto e = env.find(keys[2]);
          if (e == env.end()) {
            continue;
          }
          o.value = e->second;
        }
        if (has_value) {
          o.value = value;
        }
      }
      m[name][okey] = std::move(o);
    }
  }
  return m;
}

bool HasSuffix(const std::string& name, std::string_view suffix) {
  return ToLower(name).ends_with(suffix);
}

}  // namespace

void Target::Merge(const Target& o) {
  Replace(&context, o.context);
  Replace(&dockerfile, o.dockerfile);
  Replace(&dockerfile_inline, o.dockerfile_inline);
  MergeNullable(&args, o.args);
  for (const auto& [k, v] : o.contexts) {
    contexts[k] = v;
  }
  MergeNullable(&labels, o.labels);
  Replace(&tags, o.tags);
  Replace(&target, o.target);
  Replace(&call, o.call);
  Append(&annotations, o.annotations);
  if (o.attest) {
    Append(&attest, o.attest);
    DedupByKey(&attest, "attest");
  }
  if (o.secret) {
    Append(&secret, o.secret);
    DedupByKey(&secret, "secret");
  }
  if (o.ssh) {
    Append(&ssh, o.ssh);
    DedupByKey(&ssh, "ssh");
  }
  Replace(&platforms, o.platforms);
  if (o.cache_from) {
    Append(&cache_from, o.cache_from);
    RemoveDupes(&cache_from);
  }
  Replace(&cache_to, o.cache_to);
  Replace(&output, o.output);
  Replace(&pull, o.pull);
  Replace(&no_cache, o.no_cache);
  Replace(&network, o.network);
  Append(&no_cache_filter, o.no_cache_filter);
  Replace(&shm_size, o.shm_size);
  Append(&ulimits, o.ulimits);
  if (!o.description.empty()) {
    description = o.description;
  }
  Append(&entitlements, o.entitlements);
  MergeNullable(&extra_hosts, o.extra_hosts);
  inherits.insert(inherits.end(), o.inherits.begin(), o.inherits.end());
  Replace(&project_id, o.project_id);
  if (location.empty()) {
    location = o.location;
  }
  if (!o.inherits_location.empty()) {
    inherits_location = o.inherits_location;
  }
}

void Target::Normalize() {
  RemoveDupes(&annotations);
  DedupByKey(&attest, "attest");
  RemoveDupes(&tags);
  DedupByKey(&secret, "secret");
  DedupByKey(&ssh, "ssh");
  RemoveDupes(&platforms);
  RemoveDupes(&cache_from);
  RemoveDupes(&cache_to);
  RemoveDupes(&output);
  RemoveDupes(&no_cache_filter);
  RemoveDupes(&ulimits);
  if (network && *network == "host") {
    Append(&entitlements, std::vector<std::string>{"network.host"});
  }
  RemoveDupes(&entitlements);
  std::erase_if(contexts, [](const auto& kv) { return kv.second.empty(); });
}

const Target* Config::FindTarget(const std::string& name) const {
  for (const Target& t : targets) {
    if (t.name == name) {
      return &t;
    }
  }
  return nullptr;
}

const Group* Config::FindGroup(const std::string& name) const {
  for (const Group& g : groups) {
    if (g.name == name) {
      return &g;
    }
  }
  return nullptr;
}

namespace internal {

std::string EntryKey(std::string_view field, const std::string& entry) {
  if (field == "attest") {
    return CsvField(entry, "type");
  }
  if (field == "ssh") {
    return SplitOnce(entry, '=').first;
  }
  std::string id = CsvField(entry, "id");
  return id.empty() ? entry : id;
}

bool IsValidTargetName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

std::string SanitizeTargetName(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '.', '_');
  return out;
}

namespace {

// One character class `[...]` at the start of `p` against `c`; returns the class length or 0
// when malformed.
size_t MatchClass(std::string_view p, char c, bool* matched) {
  size_t i = 1;
  bool negate = false;
  if (i < p.size() && (p[i] == '^' || p[i] == '!')) {
    negate = true;
    ++i;
  }
  bool any = false;
  bool first = true;
  while (i < p.size() && (p[i] != ']' || first)) {
    first = false;
    char lo = p[i];
    if (lo == '\\' && i + 1 < p.size()) {
      lo = p[++i];
    }
    char hi = lo;
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hi = p[i + 2];
      if (hi == '\\' && i + 3 < p.size()) {
        hi = p[i + 3];
        ++i;
      }
      i += 2;
    }
    if (lo <= c && c <= hi) {
      any = true;
    }
    ++i;
  }
  if (i >= p.size()) {
    return 0;
  }
  *matched = any != negate;
  return i + 1;
}

}  // namespace

bool PathMatch(std::string_view pattern, std::string_view name) {
  // Iterative matcher with one backtrack point for the last `*`.
  size_t p = 0;
  size_t n = 0;
  size_t star_p = std::string_view::npos;
  size_t star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = ++p;
      star_n = n;
      continue;
    }
    if (p < pattern.size() && name[n] != '/') {
      char c = pattern[p];
      if (c == '?') {
        ++p;
        ++n;
        continue;
      }
      if (c == '[') {
        bool matched = false;
        size_t len = MatchClass(pattern.substr(p), name[n], &matched);
        if (len == 0) {
          return false;
        }
        if (matched) {
          p += len;
          ++n;
          continue;
        }
      } else {
        if (c == '\\' && p + 1 < pattern.size()) {
          c = pattern[++p];
        }
        if (c == name[n]) {
          ++p;
          ++n;
          continue;
        }
      }
    }
    if (star_p != std::string_view::npos && name[star_n] != '/') {
      p = star_p;
      n = ++star_n;
      continue;
    }
    return false;
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

void MergeConfig(Config* into, Config from) {
  for (Group& g2 : from.groups) {
    Group* g1 = nullptr;
    for (Group& g : into->groups) {
      if (g.name == g2.name) {
        g1 = &g;
      }
    }
    if (g1 == nullptr) {
      into->groups.push_back(std::move(g2));
      continue;
    }
    for (const std::string& t : g2.targets) {
      if (std::find(g1->targets.begin(), g1->targets.end(), t) == g1->targets.end()) {
        g1->targets.push_back(t);
      }
    }
    if (!g2.description.empty()) {
      g1->description = g2.description;
    }
  }
  for (Target& t2 : from.targets) {
    Target* t1 = nullptr;
    for (Target& t : into->targets) {
      if (t.name == t2.name) {
        t1 = &t;
      }
    }
    if (t1 != nullptr) {
      t1->Merge(t2);
    } else {
      into->targets.push_back(std::move(t2));
    }
  }
}

}  // namespace internal

const std::vector<std::string>& DefaultFileNames() {
  static const std::vector<std::string> kNames = {"compose.yaml",
                                                  "compose.yml",
                                                  "docker-compose.yml",
                                                  "docker-compose.yaml",
                                                  "docker-bake.json",
                                                  "docker-bake.hcl",
                                                  "docker-bake.override.json",
                                                  "docker-bake.override.hcl"};
  return kNames;
}

Result<std::vector<BakeFile>> ReadBakeFiles(const std::vector<std::string>& names,
                                            const std::string& dir) {
  std::vector<BakeFile> out;
  auto path_of = [&](const std::string& name) {
    return name.starts_with("/") || dir.empty() ? name : dir + "/" + name;
  };
  if (names.empty()) {
    for (const std::string& name : DefaultFileNames()) {
      if (os::Exists(path_of(name))) {
        out.push_back({name, BERTH_TRY(os::ReadFile(path_of(name)))});
      }
    }
    if (out.empty()) {
      return Error::NotFound("no bake file found in " + (dir.empty() ? "." : dir) +
                             " (looked for " + StrJoin(DefaultFileNames(), ", ") + ")");
    }
    return out;
  }
  for (const std::string& name : names) {
    out.push_back({name, BERTH_TRY_CONTEXT(os::ReadFile(path_of(name)), "reading " + name)});
  }
  return out;
}

Result<Resolved> Load(const std::vector<BakeFile>& files, const LoadOptions& options) {
  std::vector<const BakeFile*> compose;
  std::vector<const BakeFile*> hcl;
  for (const BakeFile& f : files) {
    if (HasSuffix(f.name, ".yml") || HasSuffix(f.name, ".yaml")) {
      compose.push_back(&f);
    } else if (HasSuffix(f.name, ".json") || HasSuffix(f.name, ".hcl")) {
      hcl.push_back(&f);
    } else if (internal::LooksLikeCompose(f.data)) {
      compose.push_back(&f);
    } else {
      hcl.push_back(&f);
    }
  }
  Resolved out;
  out.env = options.env;
  if (!compose.empty()) {
    // compose's environment: the process environment, then .env for names it lacks, then --var.
    std::map<std::string, std::string> env = options.env;
    if (!options.working_dir.empty()) {
      const std::string dotenv = options.working_dir + "/.env";
      if (os::Exists(dotenv)) {
        Result<std::string> text = os::ReadFile(dotenv);
        if (text.ok()) {
          std::map<std::string, std::string> values =
              BERTH_TRY_CONTEXT(internal::ParseDotEnv(*text, env), "reading " + dotenv);
          for (auto& [k, v] : values) {
            env.emplace(k, v);
          }
        }
      }
    }
    for (const auto& [k, v] : options.vars) {
      env[k] = v;
    }
    Config c =
        BERTH_TRY_CONTEXT(internal::LoadCompose(compose, env), "failed to parse compose file");
    internal::MergeConfig(&out.config, std::move(c));
  }
  if (!hcl.empty()) {
    Config c = BERTH_TRY(internal::LoadHcl(hcl, options, &out.variables));
    internal::MergeConfig(&out.config, std::move(c));
  }
  out.overrides = BERTH_TRY(ParseOverrides(out.config, options.overrides, options.env));
  return out;
}

Result<Selection> Resolve(const Resolved& resolved, const std::vector<std::string>& requested) {
  const Config& config = resolved.config;
  std::vector<std::string> names;
  for (const std::string& r : requested.empty() ? std::vector<std::string>{"default"} : requested) {
    const std::string name = internal::SanitizeTargetName(r);
    if (name.find_first_of("*?[]") == std::string::npos) {
      names.push_back(name);
      continue;
    }
    size_t before = names.size();
    for (const Group& g : config.groups) {
      if (internal::PathMatch(name, g.name)) {
        names.push_back(g.name);
      }
    }
    for (const Target& t : config.targets) {
      if (internal::PathMatch(name, t.name)) {
        names.push_back(t.name);
      }
    }
    if (names.size() == before) {
      return Error::NotFound("could not find any target matching " + QuoteString(name) + " (" +
                             AvailableTargets(config) + ")");
    }
  }
  names = Dedup(names);

  Selection out;
  for (const std::string& name : names) {
    if (config.FindGroup(name) == nullptr && config.FindTarget(name) == nullptr) {
      return Error::NotFound("no target or group named " + QuoteString(name) + " (" +
                             AvailableTargets(config) + ")");
    }
    std::vector<std::string> stack;
    std::vector<std::string> targets;
    std::vector<std::string> groups;
    BERTH_TRY(ExpandGroup(config, name, &stack, &targets, &groups));
    const Group* via = config.FindGroup(name);
    for (const std::string& t : Dedup(targets)) {
      if (out.targets.contains(t)) {
        continue;
      }
      out.targets.emplace(
          t, BERTH_TRY(ResolveTarget(config, resolved.overrides, t, via ? via->location : "")));
    }
    for (const std::string& g : Dedup(groups)) {
      Group group = *config.FindGroup(g);
      group.targets = Dedup(group.targets);
      out.groups[g] = std::move(group);
    }
  }
  for (const std::string& name : names) {
    auto def = out.groups.find("default");
    if (def != out.groups.end() && name == "default") {
      continue;
    }
    if (def == out.groups.end()) {
      Group g;
      g.name = "default";
      def = out.groups.emplace("default", std::move(g)).first;
    }
    def->second.targets.push_back(name);
  }
  if (auto def = out.groups.find("default"); def != out.groups.end()) {
    def->second.targets = Dedup(def->second.targets);
    std::sort(def->second.targets.begin(), def->second.targets.end());
  }
  std::vector<std::string> selected;
  for (const auto& [name, t] : out.targets) {
    selected.push_back(name);
  }
  for (const std::string& name : selected) {
    BERTH_TRY(LoadLinks(resolved, name, &out.targets, {}));
  }
  return out;
}

Result<std::vector<Target>> ResolveTargets(const Resolved& resolved,
                                           const std::vector<std::string>& names) {
  Selection s = BERTH_TRY(Resolve(resolved, names));
  std::vector<Target> out;
  for (auto& [name, t] : s.targets) {
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace berth::frontend::bake
