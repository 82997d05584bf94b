#include "registryserver/parse.h"

#include <cctype>
#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "digest/digest.h"

namespace berth::registryserver {
namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool IsValidComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) {
    return false;
  }
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < c.size() && !IsLowerAlnum(c[i])) {
      ++i;
    }
    std::string_view sep = c.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (sep != "." && sep != "_" && sep != "__" && !dashes) {
      return false;
    }
  }
  return true;
}

std::optional<uint64_t> ParseUint(std::string_view text) {
  if (text.empty() || text.size() > 20) {
    return std::nullopt;
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return false;
  }
  size_t pos = 0;
  while (true) {
    size_t slash = name.find('/', pos);
    std::string_view part =
        name.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (!IsValidComponent(part)) {
      return false;
    }
    if (slash == std::string_view::npos) {
      return true;
    }
    pos = slash + 1;
  }
}

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || tag.front() == '.' || tag.front() == '-') {
    return false;
  }
  for (char c : tag) {
    if (!IsTagChar(c)) {
      return false;
    }
  }
  return true;
}

std::optional<RegistryPath> ParseRegistryPath(std::string_view path) {
  using Kind = RegistryPath::Kind;
  constexpr std::string_view kPrefix = "/v2/";
  if (path == "/v2" || path == kPrefix) {
    return RegistryPath{.kind = Kind::kBase};
  }
  if (!path.starts_with(kPrefix)) {
    return std::nullopt;
  }
  std::string_view rest = path.substr(kPrefix.size());
  if (rest == "token") {
    return RegistryPath{.kind = Kind::kToken};
  }
  if (rest == "_catalog") {
    return RegistryPath{.kind = Kind::kCatalog};
  }
  // "<name>/blobs/uploads/" (with the trailing slash, as clients send it, or without).
  for (std::string_view suffix :
       {std::string_view("/blobs/uploads/"), std::string_view("/blobs/uploads")}) {
    if (rest.size() > suffix.size() && rest.ends_with(suffix)) {
      return RegistryPath{.kind = Kind::kUploads,
                          .name = std::string(rest.substr(0, rest.size() - suffix.size()))};
    }
  }
  if (rest.size() > 10 && rest.ends_with("/tags/list")) {
    return RegistryPath{.kind = Kind::kTags, .name = std::string(rest.substr(0, rest.size() - 10))};
  }
  // "<name>/<keyword>/<last>": the last segment is a reference, the keyword decides the kind.
  size_t last_slash = rest.rfind('/');
  if (last_slash == std::string_view::npos || last_slash + 1 == rest.size()) {
    return std::nullopt;
  }
  std::string_view reference = rest.substr(last_slash + 1);
  std::string_view head = rest.substr(0, last_slash);
  struct Keyword {
    std::string_view text;
    Kind kind;
  };
  for (const Keyword& k :
       {Keyword{"/blobs/uploads", Kind::kUpload}, Keyword{"/manifests", Kind::kManifest},
        Keyword{"/blobs", Kind::kBlob}, Keyword{"/referrers", Kind::kReferrers}}) {
    if (head.size() > k.text.size() && head.ends_with(k.text)) {
      return RegistryPath{.kind = k.kind,
                          .name = std::string(head.substr(0, head.size() - k.text.size())),
                          .reference = std::string(reference)};
    }
  }
  return std::nullopt;
}

Result<ByteRange> ParseRangeHeader(std::string_view header, uint64_t size) {
  std::string_view text = Trim(header);
  if (!text.starts_with("bytes=")) {
    return Error::InvalidArgument("Range: want bytes=FIRST-LAST");
  }
  text = Trim(text.substr(6));
  if (text.find(',') != std::string_view::npos) {
    return Error::InvalidArgument("Range: several ranges are not supported");
  }
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    return Error::InvalidArgument("Range: want bytes=FIRST-LAST");
  }
  std::string_view a = Trim(text.substr(0, dash));
  std::string_view b = Trim(text.substr(dash + 1));
  if (a.empty()) {
    // The last `n` bytes.
    std::optional<uint64_t> n = ParseUint(b);
    if (!n) {
      return Error::InvalidArgument("Range: bad suffix length");
    }
    if (*n == 0 || size == 0) {
      return Error(ErrorCode::kOutOfRange, "Range: nothing to send");
    }
    uint64_t count = std::min(*n, size);
    return ByteRange{.first = size - count, .last = size - 1};
  }
  std::optional<uint64_t> first = ParseUint(a);
  if (!first) {
    return Error::InvalidArgument("Range: bad first byte");
  }
  uint64_t last = std::numeric_limits<uint64_t>::max();
  if (!b.empty()) {
    std::optional<uint64_t> l = ParseUint(b);
    if (!l) {
      return Error::InvalidArgument("Range: bad last byte");
    }
    if (*l < *first) {
      return Error::InvalidArgument("Range: last byte before first");
    }
    last = *l;
  }
  if (*first >= size) {
    return Error(ErrorCode::kOutOfRange, "Range: starts at " + std::to_string(*first) +
                                             ", past the end of " + std::to_string(size) +
                                             " bytes");
  }
  return ByteRange{.first = *first, .last = std::min(last, size - 1)};
}

Result<ByteRange> ParseContentRange(std::string_view header) {
  std::string_view text = Trim(header);
  if (text.starts_with("bytes ")) {
    text = Trim(text.substr(6));
    size_t slash = text.find('/');
    if (slash == std::string_view::npos) {
      return Error::InvalidArgument("Content-Range: want bytes FIRST-LAST/TOTAL");
    }
    std::string_view total = text.substr(slash + 1);
    if (total != "*" && !ParseUint(total)) {
      return Error::InvalidArgument("Content-Range: bad total");
    }
    text = text.substr(0, slash);
  }
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    return Error::InvalidArgument("Content-Range: want FIRST-LAST");
  }
  std::optional<uint64_t> first = ParseUint(text.substr(0, dash));
  std::optional<uint64_t> last = ParseUint(text.substr(dash + 1));
  if (!first || !last || *last < *first) {
    return Error::InvalidArgument("Content-Range: want FIRST-LAST with FIRST <= LAST");
  }
  return ByteRange{.first = *first, .last = *last};
}

Result<std::vector<Scope>> ParseScopes(std::string_view text) {
  std::vector<Scope> out;
  for (const std::string& item : StrSplit(text, ' ')) {
    if (item.empty()) {
      continue;
    }
    size_t first = item.find(':');
    size_t last = item.rfind(':');
    if (first == std::string::npos || first == last) {
      return Error::InvalidArgument("scope " + QuoteString(item.substr(0, 300)) +
                                    ": want TYPE:NAME:ACTIONS");
    }
    Scope scope;
    scope.type = item.substr(0, first);
    scope.name = item.substr(first + 1, last - first - 1);
    if (scope.type.empty() || scope.name.empty()) {
      return Error::InvalidArgument("scope " + QuoteString(item.substr(0, 300)) +
                                    ": empty type or name");
    }
    for (const std::string& action : StrSplit(item.substr(last + 1), ',')) {
      if (action.empty()) {
        continue;
      }
      bool seen = false;
      for (const std::string& a : scope.actions) {
        seen = seen || a == action;
      }
      if (!seen) {
        scope.actions.push_back(action);
      }
    }
    out.push_back(std::move(scope));
  }
  return out;
}

std::vector<std::string> AcceptedMediaTypes(std::string_view accept) {
  std::vector<std::string> types;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    item = Trim(item.substr(0, item.find(';')));
    if (item.empty()) {
      continue;
    }
    std::string type(item);
    for (char& c : type) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (type.ends_with("/*")) {
      return {};
    }
    types.push_back(std::move(type));
  }
  return types;
}

bool IsManifestType(std::string_view type) {
  return type == kOciManifest || type == kOciIndex || type == kDockerManifest ||
         type == kDockerList;
}

namespace {

using json = nlohmann::json;

Result<ManifestDescriptor> ReadDescriptor(const json& j, const std::string& where) {
  if (!j.is_object()) {
    return Error::InvalidArgument(where + ": want a descriptor object");
  }
  auto field = [&](const char* key) {
    return j.contains(key) ? j[key] : json();
  };
  json media = field("mediaType");
  json dig = field("digest");
  json size = field("size");
  if (!media.is_string() || !dig.is_string() || !size.is_number_integer() ||
      size.get<int64_t>() < 0) {
    return Error::InvalidArgument(where + ": a descriptor needs mediaType, digest and size");
  }
  ManifestDescriptor d{.media_type = media.get<std::string>(),
                       .digest = dig.get<std::string>(),
                       .size = size.get<int64_t>()};
  if (!digest::Digest::Parse(d.digest).ok()) {
    return Error::InvalidArgument(where + ": bad digest " + d.digest.substr(0, 200));
  }
  d.external = j.contains("urls") && j["urls"].is_array() && !j["urls"].empty();
  return d;
}

}  // namespace

Result<ParsedManifest> ParseManifest(std::string_view body, std::string_view content_type) {
  json m = json::parse(body, nullptr, false);
  if (m.is_discarded() || !m.is_object()) {
    return Error::InvalidArgument("not a JSON object");
  }
  if (!m.contains("schemaVersion") || m["schemaVersion"] != 2) {
    return Error::InvalidArgument("schemaVersion must be 2");
  }
  ParsedManifest out;
  if (m.contains("mediaType")) {
    if (!m["mediaType"].is_string()) {
      return Error::InvalidArgument("mediaType must be a string");
    }
    out.media_type = m["mediaType"].get<std::string>();
  }
  if (out.media_type.empty()) {
    // OCI allows leaving mediaType out; the Content-Type says it then.
    out.media_type = content_type;
  }
  if (!IsManifestType(out.media_type)) {
    return Error::InvalidArgument("unsupported manifest media type " +
                                  out.media_type.substr(0, 200));
  }
  if (!content_type.empty() && content_type != out.media_type) {
    return Error::InvalidArgument("Content-Type " + std::string(content_type.substr(0, 200)) +
                                  " does not match the manifest's mediaType " + out.media_type);
  }
  if (IsIndexType(out.media_type)) {
    if (!m.contains("manifests") || !m["manifests"].is_array()) {
      return Error::InvalidArgument("an index needs a manifests array");
    }
    for (const json& child : m["manifests"]) {
      out.children.push_back(BERTH_TRY(ReadDescriptor(child, "manifests[]")));
    }
  } else {
    ManifestDescriptor config =
        BERTH_TRY(ReadDescriptor(m.contains("config") ? m["config"] : json(), "config"));
    out.artifact_type = config.media_type;
    out.blobs.push_back(std::move(config));
    if (m.contains("layers")) {
      if (!m["layers"].is_array()) {
        return Error::InvalidArgument("layers must be an array");
      }
      for (const json& layer : m["layers"]) {
        out.blobs.push_back(BERTH_TRY(ReadDescriptor(layer, "layers[]")));
      }
    } else if (out.media_type == kDockerManifest) {
      return Error::InvalidArgument("layers missing");
    }
  }
  if (m.contains("artifactType")) {
    if (!m["artifactType"].is_string()) {
      return Error::InvalidArgument("artifactType must be a string");
    }
    out.artifact_type = m["artifactType"].get<std::string>();
  }
  if (m.contains("subject")) {
    out.subject = BERTH_TRY(ReadDescriptor(m["subject"], "subject")).digest;
  }
  if (m.contains("annotations")) {
    if (!m["annotations"].is_object()) {
      return Error::InvalidArgument("annotations must be an object");
    }
    out.annotations_json = m["annotations"].dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return out;
}

}  // namespace berth::registryserver
