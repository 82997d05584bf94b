#include "contextsync/manifest.h"

#include <exception>
#include <string>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "contextsync/internal.h"

namespace berth::contextsync {
namespace {

constexpr int kVersion = 1;

// RFC 3629 well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): what
// nlohmann::json accepts when it writes a string.
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) {
        lo = 0xA0;
      } else if (c == 0xED) {
        hi = 0x9F;
      }
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) {
        lo = 0x90;
      } else if (c == 0xF4) {
        hi = 0x8F;
      }
    } else {
      return false;
    }
    if (s.size() - i <= n) {
      return false;
    }
    auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b1 < lo || b1 > hi) {
      return false;
    }
    for (size_t k = 2; k <= n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if (b < 0x80 || b > 0xBF) {
        return false;
      }
    }
    i += n + 1;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Error::InvalidArgument("odd number of hex digits");
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]);
    int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return Error::InvalidArgument("not lower-case hex");
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string Quote(std::string_view s) {
  return IsUtf8(s) ? "\"" + std::string(s) + "\"" : "hex:" + internal::HexEncode(s);
}

void PutString(nlohmann::json& j, const char* key, const char* hex_key, const std::string& s) {
  if (IsUtf8(s)) {
    j[key] = s;
  } else {
    j[hex_key] = internal::HexEncode(s);
  }
}

std::string_view Parent(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

// Reads a string field given plainly (`key`) or hex-encoded (`hex_key`); exactly one must be
// present. Returns false when neither is.
Result<bool> GetString(const nlohmann::json& j, const char* key, const char* hex_key,
                       std::string* out) {
  auto plain = j.find(key);
  auto hex = j.find(hex_key);
  if (plain != j.end() && hex != j.end()) {
    return Error::InvalidArgument(std::string("both \"") + key + "\" and \"" + hex_key +
                                  "\" given");
  }
  if (plain != j.end()) {
    if (!plain->is_string()) {
      return Error::InvalidArgument(std::string("\"") + key + "\" is not a string");
    }
    *out = plain->get<std::string>();
    return true;
  }
  if (hex != j.end()) {
    if (!hex->is_string()) {
      return Error::InvalidArgument(std::string("\"") + hex_key + "\" is not a string");
    }
    *out = BERTH_TRY_CONTEXT(FromHex(hex->get_ref<const std::string&>()), hex_key);
    return true;
  }
  return false;
}

Result<uint64_t> GetUnsigned(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) {
    return Error::InvalidArgument(std::string("missing \"") + key + "\"");
  }
  if (!it->is_number_unsigned()) {
    return Error::InvalidArgument(std::string("\"") + key +
                                  "\" is not a non-negative integer");
  }
  return it->get<uint64_t>();
}

Result<Entry> ParseEntry(const nlohmann::json& j) {
  if (!j.is_object()) {
    return Error::InvalidArgument("not an object");
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "path" && key != "path_hex" && key != "type" && key != "mode" && key != "size" &&
        key != "digest" && key != "target" && key != "target_hex") {
      return Error::InvalidArgument("unknown field \"" + key + "\"");
    }
  }
  Entry e;
  if (!BERTH_TRY(GetString(j, "path", "path_hex", &e.path))) {
    return Error::InvalidArgument("missing \"path\"");
  }
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) {
    return Error::InvalidArgument("missing or non-string \"type\"");
  }
  const auto& type_name = type->get_ref<const std::string&>();
  if (type_name == "file") {
    e.type = EntryType::kFile;
  } else if (type_name == "dir") {
    e.type = EntryType::kDir;
  } else if (type_name == "symlink") {
    e.type = EntryType::kSymlink;
  } else {
    return Error::InvalidArgument("unknown type \"" + type_name + "\"");
  }
  uint64_t mode = BERTH_TRY(GetUnsigned(j, "mode"));
  if (mode > 07777) {
    return Error::InvalidArgument("mode " + std::to_string(mode) + " has bits beyond 07777");
  }
  e.mode = static_cast<uint32_t>(mode);
  bool has_target = j.contains("target") || j.contains("target_hex");
  if (e.type == EntryType::kFile) {
    e.size = BERTH_TRY(GetUnsigned(j, "size"));
    auto d = j.find("digest");
    if (d == j.end() || !d->is_string()) {
      return Error::InvalidArgument("missing or non-string \"digest\"");
    }
    e.digest = BERTH_TRY(digest::Digest::Parse(d->get_ref<const std::string&>()));
    if (has_target) {
      return Error::InvalidArgument("a file has no \"target\"");
    }
  } else {
    if (j.contains("size") || j.contains("digest")) {
      return Error::InvalidArgument("only files have \"size\" and \"digest\"");
    }
    if (e.type == EntryType::kSymlink) {
      if (!BERTH_TRY(GetString(j, "target", "target_hex", &e.link_target))) {
        return Error::InvalidArgument("missing \"target\"");
      }
    } else if (has_target) {
      return Error::InvalidArgument("a directory has no \"target\"");
    }
  }
  return e;
}

Result<Manifest> ParseDocument(const nlohmann::json& doc) {
  if (!doc.is_object()) {
    return Error::InvalidArgument("manifest: not a JSON object");
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "version" && key != "entries") {
      return Error::InvalidArgument("manifest: unknown field \"" + key + "\"");
    }
  }
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kVersion) {
    return Error::InvalidArgument("manifest: missing or unsupported \"version\" (want " +
                                  std::to_string(kVersion) + ")");
  }
  auto entries = doc.find("entries");
  if (entries == doc.end() || !entries->is_array()) {
    return Error::InvalidArgument("manifest: missing or non-array \"entries\"");
  }
  if (entries->size() > kMaxEntries) {
    return Error::InvalidArgument("manifest: more than " + std::to_string(kMaxEntries) +
                                  " entries");
  }
  Manifest m;
  m.entries.reserve(entries->size());
  size_t index = 0;
  for (const nlohmann::json& j : *entries) {
    m.entries.push_back(
        BERTH_TRY_CONTEXT(ParseEntry(j), "manifest: entry " + std::to_string(index)));
    ++index;
  }
  BERTH_TRY(ValidateManifest(m));
  return m;
}

}  // namespace

std::string_view EntryTypeName(EntryType type) {
  switch (type) {
    case EntryType::kFile:
      return "file";
    case EntryType::kDir:
      return "dir";
    case EntryType::kSymlink:
      return "symlink";
  }
  return "unknown";
}

const digest::Digest& EmptyDigest() {
  static const digest::Digest kEmpty = digest::FromBytes("");
  return kEmpty;
}

bool ManifestLess(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) {
      continue;
    }
    // '/' sorts below every other byte: the shorter component comes first.
    if (a[i] == '/') {
      return true;
    }
    if (b[i] == '/') {
      return false;
    }
    return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

Result<> ValidatePath(std::string_view path) {
  if (path.empty()) {
    return Error::InvalidArgument("empty path");
  }
  if (path.size() > kMaxPathLength) {
    return Error::InvalidArgument("path longer than " + std::to_string(kMaxPathLength) +
                                  " bytes");
  }
  if (path.find('\0') != std::string_view::npos) {
    return Error::InvalidArgument("path " + Quote(path) + " contains NUL");
  }
  if (path.front() == '/') {
    return Error::InvalidArgument("path " + Quote(path) + " is absolute");
  }
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string_view part =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty()) {
      return Error::InvalidArgument("path " + Quote(path) + " has an empty component");
    }
    if (part == "." || part == "..") {
      return Error::InvalidArgument("path " + Quote(path) + " is not clean (\"" +
                                    std::string(part) + "\")");
    }
    if (part.size() > kMaxNameLength) {
      return Error::InvalidArgument("path " + Quote(path) + " has a component longer than " +
                                    std::to_string(kMaxNameLength) + " bytes");
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return {};
}

Result<> ValidateManifest(const Manifest& manifest) {
  if (manifest.entries.size() > kMaxEntries) {
    return Error::InvalidArgument("manifest: more than " + std::to_string(kMaxEntries) +
                                  " entries");
  }
  std::unordered_set<std::string_view> dirs;
  uint64_t total = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : manifest.entries) {
    auto bad = [&](const std::string& what) {
      return Error::InvalidArgument("manifest: entry " + Quote(e.path) + ": " + what);
    };
    BERTH_TRY_CONTEXT(ValidatePath(e.path), "manifest");
    if (prev != nullptr && !ManifestLess(prev->path, e.path)) {
      return bad("out of order or duplicate (after " + Quote(prev->path) + ")");
    }
    prev = &e;
    std::string_view parent = Parent(e.path);
    if (!parent.empty() && !dirs.contains(parent)) {
      return bad("its parent is not a directory entry");
    }
    if ((e.mode & ~07777u) != 0) {
      return bad("mode has bits beyond 07777");
    }
    switch (e.type) {
      case EntryType::kFile:
        if (e.size > kMaxFileSize) {
          return bad("size above the limit of " + std::to_string(kMaxFileSize));
        }
        total += e.size;
        if (total > kMaxTotalSize) {
          return bad("total size above the limit of " + std::to_string(kMaxTotalSize));
        }
        if (e.digest.algorithm() != "sha256" || e.digest.hex().size() != 64) {
          return bad("a file needs a sha256 digest");
        }
        if (e.size == 0 && e.digest != EmptyDigest()) {
          return bad("an empty file with a digest other than that of empty content");
        }
        if (!e.link_target.empty()) {
          return bad("a file has no link target");
        }
        break;
      case EntryType::kDir:
        if (e.size != 0 || !e.digest.empty() || !e.link_target.empty()) {
          return bad("a directory has no size, digest or link target");
        }
        dirs.insert(e.path);
        break;
      case EntryType::kSymlink:
        if (e.size != 0 || !e.digest.empty()) {
          return bad("a symlink has no size or digest");
        }
        if (e.link_target.empty() || e.link_target.size() > kMaxLinkTargetLength) {
          return bad("a symlink target must have 1 to " + std::to_string(kMaxLinkTargetLength) +
                     " bytes");
        }
        if (e.link_target.find('\0') != std::string::npos) {
          return bad("symlink target contains NUL");
        }
        break;
    }
  }
  return {};
}

std::string ManifestToJson(const Manifest& manifest) {
  nlohmann::json entries = nlohmann::json::array();
  for (const Entry& e : manifest.entries) {
    nlohmann::json j = nlohmann::json::object();
    PutString(j, "path", "path_hex", e.path);
    j["type"] = EntryTypeName(e.type);
    j["mode"] = e.mode;
    if (e.type == EntryType::kFile) {
      j["size"] = e.size;
      j["digest"] = e.digest.ToString();
    } else if (e.type == EntryType::kSymlink) {
      PutString(j, "target", "target_hex", e.link_target);
    }
    entries.push_back(std::move(j));
  }
  nlohmann::json doc = {{"version", kVersion}, {"entries", std::move(entries)}};
  // Every string is valid UTF-8 (IsUtf8 sent the others to the hex fields); `replace` only
  // keeps dump() from ever throwing.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Manifest> ParseManifestJson(std::string_view json) {
  if (json.size() > kMaxManifestJsonBytes) {
    return Error::InvalidArgument("manifest: larger than " +
                                  std::to_string(kMaxManifestJsonBytes) + " bytes");
  }
  try {
    nlohmann::json doc = nlohmann::json::parse(json);
    return ParseDocument(doc);
  } catch (const std::exception& e) {
    return Error::InvalidArgument(std::string("manifest: bad JSON: ") + e.what());
  }
}

std::vector<digest::Digest> FileDigests(const Manifest& manifest) {
  std::vector<digest::Digest> out;
  std::unordered_set<std::string> seen;
  for (const Entry& e : manifest.entries) {
    if (e.type == EntryType::kFile && e.size > 0 && seen.insert(e.digest.hex()).second) {
      out.push_back(e.digest);
    }
  }
  return out;
}

}  // namespace berth::contextsync
