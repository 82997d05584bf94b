#include "oci/image.h"

#include <exception>
#include <limits>
#include <new>
#include <utility>

#include <nlohmann/json.hpp>

#include "oci/media_types.h"

namespace berth::oci {
namespace {

using json = nlohmann::json;

// Where a value sits in the document being parsed, for error messages:
// `manifest: layers[1].digest: invalid digest ...`.
class Where {
 public:
  explicit Where(std::string_view doc) : doc_(doc) {}

  Where Field(std::string_view key) const {
    Where w = *this;
    if (!w.path_.empty()) {
      w.path_ += '.';
    }
    w.path_ += key;
    return w;
  }
  Where Element(size_t i) const {
    Where w = *this;
    w.path_ += '[' + std::to_string(i) + ']';
    return w;
  }
  Error Fail(std::string_view what) const {
    std::string msg(doc_);
    msg += ": ";
    if (!path_.empty()) {
      msg += path_ + ": ";
    }
    msg += what;
    return Error::InvalidArgument(std::move(msg));
  }

 private:
  std::string_view doc_;
  std::string path_;
};

// The member `key` of the object `obj`, or nullptr when absent or null (Go's decoder treats a
// null like an absent field).
const json* Member(const json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

Result<> RequireObject(const json& value, const Where& where) {
  if (!value.is_object()) {
    return where.Fail("want a JSON object");
  }
  return {};
}

Result<std::string> GetString(const json& obj, std::string_view key, const Where& where,
                              bool required = false) {
  const json* v = Member(obj, key);
  Where w = where.Field(key);
  if (v == nullptr) {
    if (required) {
      return w.Fail("required field missing");
    }
    return std::string();
  }
  if (!v->is_string()) {
    return w.Fail("want a string");
  }
  return v->get<std::string>();
}

Result<std::vector<std::string>> GetStringArray(const json& obj, std::string_view key,
                                                const Where& where) {
  std::vector<std::string> out;
  const json* v = Member(obj, key);
  if (v == nullptr) {
    return out;
  }
  Where w = where.Field(key);
  if (!v->is_array()) {
    return w.Fail("want an array of strings");
  }
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    if (!e.is_string()) {
      return w.Element(i).Fail("want a string");
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> GetStringMap(const json& obj, std::string_view key,
                                                        const Where& where) {
  std::map<std::string, std::string> out;
  const json* v = Member(obj, key);
  if (v == nullptr) {
    return out;
  }
  Where w = where.Field(key);
  if (!v->is_object()) {
    return w.Fail("want an object of strings");
  }
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_string()) {
      return w.Field(it.key()).Fail("want a string");
    }
    out.emplace(it.key(), it.value().get<std::string>());
  }
  return out;
}

// Go's map[string]struct{}: {"80/tcp": {}}.
Result<std::set<std::string>> GetKeySet(const json& obj, std::string_view key, const Where& where) {
  std::set<std::string> out;
  const json* v = Member(obj, key);
  if (v == nullptr) {
    return out;
  }
  Where w = where.Field(key);
  if (!v->is_object()) {
    return w.Fail("want an object");
  }
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_object() && !it.value().is_null()) {
      return w.Field(it.key()).Fail("want {}");
    }
    out.insert(it.key());
  }
  return out;
}

// An integer that fits int64_t; `found` tells whether the field was there.
Result<int64_t> GetInt(const json& obj, std::string_view key, const Where& where,
                       bool* found = nullptr) {
  const json* v = Member(obj, key);
  if (found != nullptr) {
    *found = v != nullptr;
  }
  if (v == nullptr) {
    return int64_t{0};
  }
  Where w = where.Field(key);
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return w.Fail("integer out of range");
    }
    return static_cast<int64_t>(u);
  }
  if (v->is_number_integer()) {
    return v->get<int64_t>();
  }
  if (v->is_number()) {
    return w.Fail("want an integer");
  }
  return w.Fail("want a number");
}

Result<bool> GetBool(const json& obj, std::string_view key, const Where& where) {
  const json* v = Member(obj, key);
  if (v == nullptr) {
    return false;
  }
  if (!v->is_boolean()) {
    return where.Field(key).Fail("want true or false");
  }
  return v->get<bool>();
}

Result<digest::Digest> ParseDigestAt(const json& value, const Where& where) {
  if (!value.is_string()) {
    return where.Fail("want a digest string");
  }
  const std::string& text = value.get_ref<const std::string&>();
  Result<digest::Digest> d = digest::Digest::Parse(text);
  if (!d.ok()) {
    return where.Fail("invalid digest \"" + text + "\": " + d.error().message());
  }
  return d;
}

Result<int> GetSchemaVersion(const json& obj, const Where& where) {
  bool found = false;
  int64_t v = BERTH_TRY(GetInt(obj, "schemaVersion", where, &found));
  if (!found) {
    return where.Field("schemaVersion").Fail("required field missing");
  }
  if (v != 2) {
    return where.Field("schemaVersion")
        .Fail("unsupported version " + std::to_string(v) + ", want 2");
  }
  return 2;
}

Result<Platform> PlatformFromJson(const json& value, const Where& where) {
  BERTH_TRY(RequireObject(value, where));
  Platform p;
  p.architecture = BERTH_TRY(GetString(value, "architecture", where, /*required=*/true));
  p.os = BERTH_TRY(GetString(value, "os", where, /*required=*/true));
  p.variant = BERTH_TRY(GetString(value, "variant", where));
  p.os_version = BERTH_TRY(GetString(value, "os.version", where));
  p.os_features = BERTH_TRY(GetStringArray(value, "os.features", where));
  return p;
}

Result<Descriptor> DescriptorFromJson(const json& value, const Where& where) {
  BERTH_TRY(RequireObject(value, where));
  Descriptor d;
  d.media_type = BERTH_TRY(GetString(value, "mediaType", where, /*required=*/true));
  if (d.media_type.empty()) {
    return where.Field("mediaType").Fail("must not be empty");
  }
  const json* dg = Member(value, "digest");
  if (dg == nullptr) {
    return where.Field("digest").Fail("required field missing");
  }
  d.digest = BERTH_TRY(ParseDigestAt(*dg, where.Field("digest")));
  bool found = false;
  d.size = BERTH_TRY(GetInt(value, "size", where, &found));
  if (!found) {
    return where.Field("size").Fail("required field missing");
  }
  if (d.size < 0) {
    return where.Field("size").Fail("must not be negative");
  }
  d.urls = BERTH_TRY(GetStringArray(value, "urls", where));
  d.annotations = BERTH_TRY(GetStringMap(value, "annotations", where));
  if (const json* p = Member(value, "platform")) {
    d.platform = BERTH_TRY(PlatformFromJson(*p, where.Field("platform")));
  }
  d.artifact_type = BERTH_TRY(GetString(value, "artifactType", where));
  return d;
}

Result<std::vector<Descriptor>> DescriptorArray(const json& obj, std::string_view key,
                                                const Where& where) {
  const json* v = Member(obj, key);
  Where w = where.Field(key);
  if (v == nullptr) {
    return w.Fail("required field missing");
  }
  if (!v->is_array()) {
    return w.Fail("want an array of descriptors");
  }
  std::vector<Descriptor> out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    out.push_back(BERTH_TRY(DescriptorFromJson((*v)[i], w.Element(i))));
  }
  return out;
}

Result<std::optional<Descriptor>> OptionalDescriptor(const json& obj, std::string_view key,
                                                     const Where& where) {
  const json* v = Member(obj, key);
  if (v == nullptr) {
    return std::optional<Descriptor>();
  }
  return std::optional<Descriptor>(BERTH_TRY(DescriptorFromJson(*v, where.Field(key))));
}

Result<HealthConfig> HealthFromJson(const json& value, const Where& where) {
  BERTH_TRY(RequireObject(value, where));
  HealthConfig h;
  h.test = BERTH_TRY(GetStringArray(value, "Test", where));
  h.interval = BERTH_TRY(GetInt(value, "Interval", where));
  h.timeout = BERTH_TRY(GetInt(value, "Timeout", where));
  h.start_period = BERTH_TRY(GetInt(value, "StartPeriod", where));
  h.start_interval = BERTH_TRY(GetInt(value, "StartInterval", where));
  h.retries = BERTH_TRY(GetInt(value, "Retries", where));
  return h;
}

Result<ContainerConfig> ContainerConfigFromJson(const json& value, const Where& where) {
  BERTH_TRY(RequireObject(value, where));
  ContainerConfig c;
  c.user = BERTH_TRY(GetString(value, "User", where));
  c.exposed_ports = BERTH_TRY(GetKeySet(value, "ExposedPorts", where));
  c.env = BERTH_TRY(GetStringArray(value, "Env", where));
  c.entrypoint = BERTH_TRY(GetStringArray(value, "Entrypoint", where));
  c.cmd = BERTH_TRY(GetStringArray(value, "Cmd", where));
  c.volumes = BERTH_TRY(GetKeySet(value, "Volumes", where));
  c.working_dir = BERTH_TRY(GetString(value, "WorkingDir", where));
  c.labels = BERTH_TRY(GetStringMap(value, "Labels", where));
  c.stop_signal = BERTH_TRY(GetString(value, "StopSignal", where));
  if (const json* h = Member(value, "Healthcheck")) {
    c.healthcheck = BERTH_TRY(HealthFromJson(*h, where.Field("Healthcheck")));
  }
  c.shell = BERTH_TRY(GetStringArray(value, "Shell", where));
  c.on_build = BERTH_TRY(GetStringArray(value, "OnBuild", where));
  c.args_escaped = BERTH_TRY(GetBool(value, "ArgsEscaped", where));
  return c;
}

Result<std::string> GetTimestamp(const json& obj, std::string_view key, const Where& where) {
  std::string t = BERTH_TRY(GetString(obj, key, where));
  if (!t.empty() && !IsRfc3339(t)) {
    return where.Field(key).Fail("\"" + t + "\" is not an RFC 3339 timestamp");
  }
  return t;
}

Result<History> HistoryFromJson(const json& value, const Where& where) {
  BERTH_TRY(RequireObject(value, where));
  History h;
  h.created = BERTH_TRY(GetTimestamp(value, "created", where));
  h.created_by = BERTH_TRY(GetString(value, "created_by", where));
  h.author = BERTH_TRY(GetString(value, "author", where));
  h.comment = BERTH_TRY(GetString(value, "comment", where));
  h.empty_layer = BERTH_TRY(GetBool(value, "empty_layer", where));
  return h;
}

Result<RootFs> RootFsFromJson(const json& value, const Where& where) {
  BERTH_TRY(RequireObject(value, where));
  RootFs r;
  r.type = BERTH_TRY(GetString(value, "type", where, /*required=*/true));
  if (r.type != "layers") {
    return where.Field("type").Fail("unsupported type \"" + r.type + "\", want \"layers\"");
  }
  // Go writes a nil slice as null: an image without layers may say "diff_ids": null.
  if (const json* ids = Member(value, "diff_ids")) {
    Where w = where.Field("diff_ids");
    if (!ids->is_array()) {
      return w.Fail("want an array of digests");
    }
    for (size_t i = 0; i < ids->size(); ++i) {
      r.diff_ids.push_back(BERTH_TRY(ParseDigestAt((*ids)[i], w.Element(i))));
    }
  }
  return r;
}

Result<json> ParseJsonObject(std::string_view text, const Where& where) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return where.Fail(std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) {
    return where.Fail("want a JSON object");
  }
  return j;
}

// Runs a parser body, turning anything nlohmann or the allocator throws into an Error so that
// nothing escapes our API.
template <typename F>
auto Guard(std::string_view doc, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const json::exception& e) {
    return Error::InvalidArgument(std::string(doc) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return Error(ErrorCode::kResourceExhausted, std::string(doc) + ": out of memory");
  } catch (const std::exception& e) {
    return Error::Internal(std::string(doc) + ": " + e.what());
  }
}

// ---- Serialisation ----

std::string DigestString(const digest::Digest& d) {
  return d.empty() ? "" : d.ToString();
}

json StringMapJson(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) {
    out[k] = v;
  }
  return out;
}

json KeySetJson(const std::set<std::string>& s) {
  json out = json::object();
  for (const std::string& k : s) {
    out[k] = json::object();
  }
  return out;
}

json PlatformJson(const Platform& p) {
  json out = json::object();
  out["architecture"] = p.architecture;
  out["os"] = p.os;
  if (!p.variant.empty()) {
    out["variant"] = p.variant;
  }
  if (!p.os_version.empty()) {
    out["os.version"] = p.os_version;
  }
  if (!p.os_features.empty()) {
    out["os.features"] = p.os_features;
  }
  return out;
}

json DescriptorJson(const Descriptor& d) {
  json out = json::object();
  out["mediaType"] = d.media_type;
  out["digest"] = DigestString(d.digest);
  out["size"] = d.size;
  if (!d.urls.empty()) {
    out["urls"] = d.urls;
  }
  if (!d.annotations.empty()) {
    out["annotations"] = StringMapJson(d.annotations);
  }
  if (d.platform.has_value()) {
    out["platform"] = PlatformJson(*d.platform);
  }
  if (!d.artifact_type.empty()) {
    out["artifactType"] = d.artifact_type;
  }
  return out;
}

json DescriptorsJson(const std::vector<Descriptor>& ds) {
  json out = json::array();
  for (const Descriptor& d : ds) {
    out.push_back(DescriptorJson(d));
  }
  return out;
}

json ContainerConfigJson(const ContainerConfig& c) {
  json out = json::object();
  if (!c.user.empty()) {
    out["User"] = c.user;
  }
  if (!c.exposed_ports.empty()) {
    out["ExposedPorts"] = KeySetJson(c.exposed_ports);
  }
  if (!c.env.empty()) {
    out["Env"] = c.env;
  }
  if (!c.entrypoint.empty()) {
    out["Entrypoint"] = c.entrypoint;
  }
  if (!c.cmd.empty()) {
    out["Cmd"] = c.cmd;
  }
  if (!c.volumes.empty()) {
    out["Volumes"] = KeySetJson(c.volumes);
  }
  if (!c.working_dir.empty()) {
    out["WorkingDir"] = c.working_dir;
  }
  if (!c.labels.empty()) {
    out["Labels"] = StringMapJson(c.labels);
  }
  if (!c.stop_signal.empty()) {
    out["StopSignal"] = c.stop_signal;
  }
  if (c.healthcheck.has_value()) {
    const HealthConfig& h = *c.healthcheck;
    json hj = json::object();
    if (!h.test.empty()) {
      hj["Test"] = h.test;
    }
    if (h.interval != 0) {
      hj["Interval"] = h.interval;
    }
    if (h.timeout != 0) {
      hj["Timeout"] = h.timeout;
    }
    if (h.start_period != 0) {
      hj["StartPeriod"] = h.start_period;
    }
    if (h.start_interval != 0) {
      hj["StartInterval"] = h.start_interval;
    }
    if (h.retries != 0) {
      hj["Retries"] = h.retries;
    }
    out["Healthcheck"] = std::move(hj);
  }
  if (!c.shell.empty()) {
    out["Shell"] = c.shell;
  }
  if (!c.on_build.empty()) {
    out["OnBuild"] = c.on_build;
  }
  if (c.args_escaped) {
    out["ArgsEscaped"] = true;
  }
  return out;
}

// Compact JSON, keys in byte order (json objects are std::maps). Invalid UTF-8 is replaced, not
// thrown about, so serialising never throws short of the allocator failing.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Builds a document with `body` and dumps it.
template <typename F>
std::string BuildAndDump(F&& body) {
  return Dump(body());
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) {
    return 29;
  }
  return kDays[month - 1];
}

}  // namespace

Platform ImageConfig::platform() const {
  Platform p;
  p.os = os;
  p.architecture = architecture;
  p.variant = variant;
  p.os_version = os_version;
  p.os_features = os_features;
  return p;
}

bool IsRfc3339(std::string_view s) {
  size_t pos = 0;
  // Reads exactly `n` digits as a number, or returns -1.
  auto number = [&](size_t n) -> int {
    if (pos + n > s.size()) {
      return -1;
    }
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = s[pos + i];
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    pos += n;
    return v;
  };
  auto expect = [&](char c) {
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  int year = number(4);
  if (year < 0 || !expect('-')) {
    return false;
  }
  int month = number(2);
  if (month < 1 || month > 12 || !expect('-')) {
    return false;
  }
  int day = number(2);
  if (day < 1 || day > DaysInMonth(year, month) || !expect('T')) {
    return false;
  }
  int hour = number(2);
  if (hour < 0 || hour > 23 || !expect(':')) {
    return false;
  }
  int minute = number(2);
  if (minute < 0 || minute > 59 || !expect(':')) {
    return false;
  }
  int second = number(2);
  if (second < 0 || second > 59) {
    return false;
  }
  if (expect('.')) {
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ++pos;
    }
    if (pos == start) {
      return false;
    }
  }
  if (expect('Z')) {
    return pos == s.size();
  }
  if (!expect('+') && !expect('-')) {
    return false;
  }
  int off_hour = number(2);
  if (off_hour < 0 || off_hour > 23 || !expect(':')) {
    return false;
  }
  int off_minute = number(2);
  return off_minute >= 0 && off_minute <= 59 && pos == s.size();
}

Result<Descriptor> ParseDescriptor(std::string_view text) {
  return Guard("descriptor", [&]() -> Result<Descriptor> {
    Where where("descriptor");
    json j = BERTH_TRY(ParseJsonObject(text, where));
    return DescriptorFromJson(j, where);
  });
}

Result<Manifest> ParseManifest(std::string_view text) {
  return Guard("manifest", [&]() -> Result<Manifest> {
    Where where("manifest");
    json j = BERTH_TRY(ParseJsonObject(text, where));
    Manifest m;
    m.schema_version = BERTH_TRY(GetSchemaVersion(j, where));
    m.media_type = BERTH_TRY(GetString(j, "mediaType", where));
    if (!m.media_type.empty() && !IsManifestMediaType(m.media_type)) {
      return where.Field("mediaType").Fail("\"" + m.media_type + "\" is not an image manifest");
    }
    if (m.media_type.empty() && Member(j, "manifests") != nullptr) {
      return where.Field("manifests").Fail("present without a mediaType: this is an index");
    }
    m.artifact_type = BERTH_TRY(GetString(j, "artifactType", where));
    const json* config = Member(j, "config");
    if (config == nullptr) {
      return where.Field("config").Fail("required field missing");
    }
    m.config = BERTH_TRY(DescriptorFromJson(*config, where.Field("config")));
    m.layers = BERTH_TRY(DescriptorArray(j, "layers", where));
    m.subject = BERTH_TRY(OptionalDescriptor(j, "subject", where));
    m.annotations = BERTH_TRY(GetStringMap(j, "annotations", where));
    return m;
  });
}

Result<Index> ParseIndex(std::string_view text) {
  return Guard("index", [&]() -> Result<Index> {
    Where where("index");
    json j = BERTH_TRY(ParseJsonObject(text, where));
    Index idx;
    idx.schema_version = BERTH_TRY(GetSchemaVersion(j, where));
    idx.media_type = BERTH_TRY(GetString(j, "mediaType", where));
    if (!idx.media_type.empty() && !IsIndexMediaType(idx.media_type)) {
      return where.Field("mediaType").Fail("\"" + idx.media_type + "\" is not an image index");
    }
    if (idx.media_type.empty() && Member(j, "config") != nullptr) {
      return where.Field("config").Fail("present without a mediaType: this is a manifest");
    }
    idx.artifact_type = BERTH_TRY(GetString(j, "artifactType", where));
    idx.manifests = BERTH_TRY(DescriptorArray(j, "manifests", where));
    idx.subject = BERTH_TRY(OptionalDescriptor(j, "subject", where));
    idx.annotations = BERTH_TRY(GetStringMap(j, "annotations", where));
    return idx;
  });
}

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  return Guard("image config", [&]() -> Result<ImageConfig> {
    Where where("image config");
    json j = BERTH_TRY(ParseJsonObject(text, where));
    ImageConfig c;
    c.created = BERTH_TRY(GetTimestamp(j, "created", where));
    c.author = BERTH_TRY(GetString(j, "author", where));
    c.architecture = BERTH_TRY(GetString(j, "architecture", where, /*required=*/true));
    c.os = BERTH_TRY(GetString(j, "os", where, /*required=*/true));
    c.os_version = BERTH_TRY(GetString(j, "os.version", where));
    c.os_features = BERTH_TRY(GetStringArray(j, "os.features", where));
    c.variant = BERTH_TRY(GetString(j, "variant", where));
    if (const json* cc = Member(j, "config")) {
      c.config = BERTH_TRY(ContainerConfigFromJson(*cc, where.Field("config")));
    }
    const json* rootfs = Member(j, "rootfs");
    if (rootfs == nullptr) {
      return where.Field("rootfs").Fail("required field missing");
    }
    c.rootfs = BERTH_TRY(RootFsFromJson(*rootfs, where.Field("rootfs")));
    if (const json* history = Member(j, "history")) {
      Where w = where.Field("history");
      if (!history->is_array()) {
        return w.Fail("want an array");
      }
      for (size_t i = 0; i < history->size(); ++i) {
        c.history.push_back(BERTH_TRY(HistoryFromJson((*history)[i], w.Element(i))));
      }
    }
    return c;
  });
}

std::string Serialize(const Descriptor& descriptor) {
  return BuildAndDump([&] { return DescriptorJson(descriptor); });
}

std::string Serialize(const Manifest& m) {
  return BuildAndDump([&] {
    json out = json::object();
    out["schemaVersion"] = m.schema_version;
    if (!m.media_type.empty()) {
      out["mediaType"] = m.media_type;
    }
    if (!m.artifact_type.empty()) {
      out["artifactType"] = m.artifact_type;
    }
    out["config"] = DescriptorJson(m.config);
    out["layers"] = DescriptorsJson(m.layers);
    if (m.subject.has_value()) {
      out["subject"] = DescriptorJson(*m.subject);
    }
    if (!m.annotations.empty()) {
      out["annotations"] = StringMapJson(m.annotations);
    }
    return out;
  });
}

std::string Serialize(const Index& idx) {
  return BuildAndDump([&] {
    json out = json::object();
    out["schemaVersion"] = idx.schema_version;
    if (!idx.media_type.empty()) {
      out["mediaType"] = idx.media_type;
    }
    if (!idx.artifact_type.empty()) {
      out["artifactType"] = idx.artifact_type;
    }
    out["manifests"] = DescriptorsJson(idx.manifests);
    if (idx.subject.has_value()) {
      out["subject"] = DescriptorJson(*idx.subject);
    }
    if (!idx.annotations.empty()) {
      out["annotations"] = StringMapJson(idx.annotations);
    }
    return out;
  });
}

std::string Serialize(const ImageConfig& c) {
  return BuildAndDump([&] {
    json out = json::object();
    if (!c.created.empty()) {
      out["created"] = c.created;
    }
    if (!c.author.empty()) {
      out["author"] = c.author;
    }
    out["architecture"] = c.architecture;
    out["os"] = c.os;
    if (!c.os_version.empty()) {
      out["os.version"] = c.os_version;
    }
    if (!c.os_features.empty()) {
      out["os.features"] = c.os_features;
    }
    if (!c.variant.empty()) {
      out["variant"] = c.variant;
    }
    out["config"] = ContainerConfigJson(c.config);
    json diff_ids = json::array();
    for (const digest::Digest& d : c.rootfs.diff_ids) {
      diff_ids.push_back(DigestString(d));
    }
    out["rootfs"] = json{{"type", c.rootfs.type}, {"diff_ids", std::move(diff_ids)}};
    if (!c.history.empty()) {
      json history = json::array();
      for (const History& h : c.history) {
        json hj = json::object();
        if (!h.created.empty()) {
          hj["created"] = h.created;
        }
        if (!h.created_by.empty()) {
          hj["created_by"] = h.created_by;
        }
        if (!h.author.empty()) {
          hj["author"] = h.author;
        }
        if (!h.comment.empty()) {
          hj["comment"] = h.comment;
        }
        if (h.empty_layer) {
          hj["empty_layer"] = true;
        }
        history.push_back(std::move(hj));
      }
      out["history"] = std::move(history);
    }
    return out;
  });
}

Descriptor DescribeBlob(std::string_view media_type, std::string_view data) {
  Descriptor d;
  d.media_type = std::string(media_type);
  d.digest = digest::FromBytes(data);
  d.size = static_cast<int64_t>(data.size());
  return d;
}

}  // namespace berth::oci
