#include "engine/options_json.h"

#include <nlohmann/json.hpp>

#include "engine/attest.h"
#include "engine/cache_io.h"
#include "registry/auth.h"

namespace berth::engine {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxDockerfileBytes = size_t{4} << 20;
constexpr size_t kMaxListItems = 10000;

json OutputToJson(const Output& o) {
  json j = {{"type", std::string(OutputTypeName(o.type))}};
  if (!o.names.empty()) {
    j["names"] = o.names;
  }
  if (o.push) {
    j["push"] = true;
  }
  if (!o.dest.empty()) {
    j["dest"] = o.dest;
  }
  if (!o.tar) {
    j["tar"] = false;
  }
  if (!o.annotations.empty()) {
    j["annotations"] = o.annotations;
  }
  return j;
}

// Typed getters that name the field in their errors.
class Fields {
 public:
  explicit Fields(const json& j) : j_(j) {}

  Result<std::string> String(const char* name, std::string fallback = "") const {
    auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) {
      return fallback;
    }
    if (!it->is_string()) {
      return Bad(name, "want a string");
    }
    return it->get<std::string>();
  }
  Result<bool> Bool(const char* name) const {
    auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) {
      return false;
    }
    if (!it->is_boolean()) {
      return Bad(name, "want true or false");
    }
    return it->get<bool>();
  }
  Result<std::optional<int64_t>> Int(const char* name) const {
    auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) {
      return std::optional<int64_t>();
    }
    if (!it->is_number_integer()) {
      return Bad(name, "want an integer");
    }
    return std::optional<int64_t>(it->get<int64_t>());
  }
  Result<std::vector<std::string>> Strings(const char* name) const {
    std::vector<std::string> out;
    auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) {
      return out;
    }
    if (!it->is_array() || it->size() > kMaxListItems) {
      return Bad(name, "want a list of strings");
    }
    for (const json& v : *it) {
      if (!v.is_string()) {
        return Bad(name, "want a list of strings");
      }
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  Result<std::map<std::string, std::string>> Map(const char* name) const {
    std::map<std::string, std::string> out;
    auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) {
      return out;
    }
    if (!it->is_object() || it->size() > kMaxListItems) {
      return Bad(name, "want an object of strings");
    }
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        return Bad(name, "want an object of strings");
      }
      out[k] = v.get<std::string>();
    }
    return out;
  }
  const json* Find(const char* name) const {
    auto it = j_.find(name);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  static Error Bad(const std::string& name, const std::string& what) {
    return Error::InvalidArgument("build options: " + name + ": " + what);
  }

 private:
  const json& j_;
};

Result<Output> OutputFromJson(const json& j, size_t index) {
  std::string where = "outputs[" + std::to_string(index) + "]";
  if (!j.is_object()) {
    return Fields::Bad(where, "want an object");
  }
  Fields f(j);
  Output o;
  std::string type = BERTH_TRY(f.String("type"));
  bool known = false;
  for (OutputType t : {OutputType::kImage, OutputType::kOci, OutputType::kDocker,
                       OutputType::kLocal, OutputType::kTar}) {
    if (type == OutputTypeName(t)) {
      o.type = t;
      known = true;
    }
  }
  if (!known) {
    return Fields::Bad(where + ".type", "unknown output type \"" + type + "\"");
  }
  o.names = BERTH_TRY(f.Strings("names"));
  o.push = BERTH_TRY(f.Bool("push"));
  o.dest = BERTH_TRY(f.String("dest"));
  if (const json* tar = f.Find("tar")) {
    if (!tar->is_boolean()) {
      return Fields::Bad(where + ".tar", "want true or false");
    }
    o.tar = tar->get<bool>();
  }
  o.annotations = BERTH_TRY(f.Map("annotations"));
  return o;
}

// The registry caches among `specs`: a local cache directory is a path on the client, which
// does not travel (the caller warns); a spec that does not parse travels, for berthd to refuse.
std::vector<std::string> RegistryCaches(const std::vector<std::string>& specs, bool export_) {
  std::vector<std::string> out;
  for (const std::string& spec : specs) {
    Result<CacheSpec> parsed = export_ ? ParseCacheExport(spec) : ParseCacheImport(spec);
    if (!parsed.ok() || parsed->type == CacheSpec::Type::kRegistry) {
      out.push_back(spec);
    }
  }
  return out;
}

}  // namespace

std::string OptionsToJson(const BuildOptions& o, bool with_secrets) {
  json j;
  j["dockerfile"] = o.dockerfile_text;
  j["dockerfile_name"] = o.dockerfile_name;
  j["excludes"] = o.context_excludes;
  j["build_args"] = o.build_args;
  std::map<std::string, std::string> image_contexts;
  for (const auto& [name, value] : o.build_contexts) {
    if (value.starts_with("docker-image://")) {
      image_contexts[name] = value;
    }
  }
  j["build_contexts"] = image_contexts;
  j["target"] = o.target;
  j["tags"] = o.tags;
  j["no_cache"] = o.no_cache;
  j["no_cache_filter"] = o.no_cache_filter;
  j["cache_from"] = RegistryCaches(o.cache_from, /*export_=*/false);
  j["cache_to"] = RegistryCaches(o.cache_to, /*export_=*/true);
  j["attests"] = o.attests;
  j["pull"] = o.pull;
  j["labels"] = o.labels;
  j["annotations"] = o.annotations;
  j["network"] = o.network;
  j["extra_hosts"] = o.extra_hosts;
  json ulimits = json::array();
  for (const Ulimit& u : o.ulimits) {
    ulimits.push_back({{"name", u.name}, {"soft", u.soft}, {"hard", u.hard}});
  }
  j["ulimits"] = ulimits;
  j["shm_size"] = o.shm_size;
  json outputs = json::array();
  for (const Output& out : o.outputs) {
    outputs.push_back(OutputToJson(out));
  }
  j["outputs"] = outputs;
  if (o.source_date_epoch) {
    j["source_date_epoch"] = *o.source_date_epoch;
  }
  json secrets = json::object();
  for (const auto& [id, value] : o.secrets) {
    secrets[id] = with_secrets ? registry::Base64Encode(value) : "";
  }
  if (with_secrets) {
    j["secrets"] = secrets;
  } else {
    std::vector<std::string> ids;
    for (const auto& [id, value] : o.secrets) {
      ids.push_back(id);
    }
    j["secret_ids"] = ids;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<BuildOptions> OptionsFromJson(std::string_view text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    return Error::InvalidArgument(std::string("build options: ") + e.what());
  }
  if (!j.is_object()) {
    return Error::InvalidArgument("build options: want a JSON object");
  }
  Fields f(j);
  BuildOptions o;
  o.dockerfile_text = BERTH_TRY(f.String("dockerfile"));
  if (o.dockerfile_text.size() > kMaxDockerfileBytes) {
    return Fields::Bad("dockerfile", "larger than 4 MiB");
  }
  o.dockerfile_name = BERTH_TRY(f.String("dockerfile_name", "Dockerfile"));
  if (o.dockerfile_name.empty() || o.dockerfile_name.find('/') != std::string::npos) {
    return Fields::Bad("dockerfile_name", "want a file name");
  }
  o.context_excludes = BERTH_TRY(f.Strings("excludes"));
  o.build_args = BERTH_TRY(f.Map("build_args"));
  o.build_contexts = BERTH_TRY(f.Map("build_contexts"));
  for (const auto& [name, value] : o.build_contexts) {
    if (!value.starts_with("docker-image://")) {
      return Fields::Bad("build_contexts." + name,
                         "only docker-image:// contexts can be used remotely");
    }
  }
  o.target = BERTH_TRY(f.String("target"));
  o.tags = BERTH_TRY(f.Strings("tags"));
  o.no_cache = BERTH_TRY(f.Bool("no_cache"));
  o.no_cache_filter = BERTH_TRY(f.Strings("no_cache_filter"));
  for (const char* field : {"cache_from", "cache_to"}) {
    bool export_ = std::string_view(field) == "cache_to";
    std::vector<std::string> specs = BERTH_TRY(f.Strings(field));
    for (size_t i = 0; i < specs.size(); ++i) {
      Result<CacheSpec> spec = export_ ? ParseCacheExport(specs[i]) : ParseCacheImport(specs[i]);
      std::string where = std::string(field) + "[" + std::to_string(i) + "]";
      if (!spec.ok()) {
        return Fields::Bad(where, spec.error().ToString());
      }
      if (spec->type != CacheSpec::Type::kRegistry) {
        return Fields::Bad(where, "only type=registry caches can be used remotely");
      }
    }
    (export_ ? o.cache_to : o.cache_from) = std::move(specs);
  }
  o.attests = BERTH_TRY(f.Strings("attests"));
  if (Result<AttestOptions> attests = ParseAttests(o.attests); !attests.ok()) {
    return Fields::Bad("attests", attests.error().ToString());
  }
  o.pull = BERTH_TRY(f.Bool("pull"));
  o.labels = BERTH_TRY(f.Map("labels"));
  o.annotations = BERTH_TRY(f.Map("annotations"));
  o.network = BERTH_TRY(f.String("network", "default"));
  o.extra_hosts = BERTH_TRY(f.Strings("extra_hosts"));
  if (const json* ulimits = f.Find("ulimits")) {
    if (!ulimits->is_array() || ulimits->size() > 64) {
      return Fields::Bad("ulimits", "want a list");
    }
    for (const json& u : *ulimits) {
      if (!u.is_object()) {
        return Fields::Bad("ulimits", "want objects {name, soft, hard}");
      }
      Fields uf(u);
      Ulimit limit;
      limit.name = BERTH_TRY(uf.String("name"));
      limit.soft = BERTH_TRY(uf.Int("soft")).value_or(0);
      limit.hard = BERTH_TRY(uf.Int("hard")).value_or(0);
      o.ulimits.push_back(limit);
    }
  }
  std::optional<int64_t> shm = BERTH_TRY(f.Int("shm_size"));
  if (shm && *shm < 0) {
    return Fields::Bad("shm_size", "must not be negative");
  }
  o.shm_size = static_cast<uint64_t>(shm.value_or(0));
  if (const json* outputs = f.Find("outputs")) {
    if (!outputs->is_array() || outputs->size() > 16) {
      return Fields::Bad("outputs", "want a list of at most 16 outputs");
    }
    for (size_t i = 0; i < outputs->size(); ++i) {
      o.outputs.push_back(BERTH_TRY(OutputFromJson((*outputs)[i], i)));
    }
  }
  o.source_date_epoch = BERTH_TRY(f.Int("source_date_epoch"));
  for (const auto& [id, value] : BERTH_TRY(f.Map("secrets"))) {
    Result<std::string> decoded = registry::Base64Decode(value);
    if (!decoded.ok()) {
      return Fields::Bad("secrets." + id, "not base64");
    }
    o.secrets[id] = std::move(decoded).value();
  }
  return o;
}

}  // namespace berth::engine
