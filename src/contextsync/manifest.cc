#include "contextsync/manifest.h"

#include <exception>
#include <optional>
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

std::string_view Parent(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

// Appends `s` as a JSON string. REQUIRES: IsUtf8(s).
void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      *out += "\\u00";
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

// Appends ,"key":"s" or, for a string that is not UTF-8, ,"hex_key":"<hex>".
void AppendStringField(std::string* out, const char* key, const char* hex_key, std::string_view s) {
  bool plain = IsUtf8(s);
  *out += ",\"";
  *out += plain ? key : hex_key;
  *out += "\":";
  AppendJsonString(out, plain ? std::string(s) : internal::HexEncode(s));
}

// The fields of one entry as they arrive, checked for type and duplicates; BuildEntry checks
// that they make an entry.
struct RawEntry {
  std::optional<std::string> path, path_hex, type, digest, target, target_hex;
  std::optional<uint64_t> mode, size;
};

Result<Entry> BuildEntry(RawEntry& raw) {
  Entry e;
  if (raw.path && raw.path_hex) {
    return Error::InvalidArgument(R"(both "path" and "path_hex" given)");
  }
  if (raw.path) {
    e.path = std::move(*raw.path);
  } else if (raw.path_hex) {
    e.path = BERTH_TRY_CONTEXT(FromHex(*raw.path_hex), "path_hex");
  } else {
    return Error::InvalidArgument("missing \"path\"");
  }
  if (!raw.type) {
    return Error::InvalidArgument("missing \"type\"");
  }
  if (*raw.type == "file") {
    e.type = EntryType::kFile;
  } else if (*raw.type == "dir") {
    e.type = EntryType::kDir;
  } else if (*raw.type == "symlink") {
    e.type = EntryType::kSymlink;
  } else {
    return Error::InvalidArgument("unknown type \"" + *raw.type + "\"");
  }
  if (!raw.mode) {
    return Error::InvalidArgument("missing \"mode\"");
  }
  if (*raw.mode > 07777) {
    return Error::InvalidArgument("mode " + std::to_string(*raw.mode) + " has bits beyond 07777");
  }
  e.mode = static_cast<uint32_t>(*raw.mode);
  bool has_target = raw.target || raw.target_hex;
  if (e.type == EntryType::kFile) {
    if (!raw.size) {
      return Error::InvalidArgument("missing \"size\"");
    }
    e.size = *raw.size;
    if (!raw.digest) {
      return Error::InvalidArgument("missing \"digest\"");
    }
    e.digest = BERTH_TRY(digest::Digest::Parse(*raw.digest));
    if (has_target) {
      return Error::InvalidArgument("a file has no \"target\"");
    }
    return e;
  }
  if (raw.size || raw.digest) {
    return Error::InvalidArgument(R"(only files have "size" and "digest")");
  }
  if (e.type == EntryType::kDir) {
    if (has_target) {
      return Error::InvalidArgument("a directory has no \"target\"");
    }
    return e;
  }
  if (raw.target && raw.target_hex) {
    return Error::InvalidArgument(R"(both "target" and "target_hex" given)");
  }
  if (raw.target) {
    e.link_target = std::move(*raw.target);
  } else if (raw.target_hex) {
    e.link_target = BERTH_TRY_CONTEXT(FromHex(*raw.target_hex), "target_hex");
  } else {
    return Error::InvalidArgument("missing \"target\"");
  }
  return e;
}

// Builds the manifest straight from nlohmann's SAX events: no document tree, and the first
// thing out of place stops the parse. The expected shape is
//   {"version":1,"entries":[{<scalar fields>}, ...]}
// with no other keys, no nesting inside an entry and no repeated key.
class ManifestSax final : public nlohmann::json_sax<nlohmann::json> {
 public:
  Result<Manifest> Take() {
    if (error_) {
      return std::move(*error_);
    }
    if (!version_seen_) {
      return Error::InvalidArgument("manifest: missing \"version\"");
    }
    if (!entries_seen_) {
      return Error::InvalidArgument("manifest: missing \"entries\"");
    }
    return std::move(manifest_);
  }

  bool null() override { return Scalar(Value{}); }
  bool boolean(bool) override { return Scalar(Value{}); }
  bool number_integer(number_integer_t v) override {
    return v >= 0 ? Scalar(Value{.number = static_cast<uint64_t>(v)}) : Scalar(Value{});
  }
  bool number_unsigned(number_unsigned_t v) override { return Scalar(Value{.number = v}); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(Value{}); }
  bool string(string_t& v) override { return Scalar(Value{.text = &v}); }
  bool binary(binary_t&) override { return Fail("unexpected binary value"); }

  bool start_object(std::size_t) override {
    if (state_ == State::kStart) {
      state_ = State::kTop;
      return true;
    }
    if (state_ == State::kEntries) {
      if (manifest_.entries.size() >= kMaxEntries) {
        return Fail("more than " + std::to_string(kMaxEntries) + " entries");
      }
      raw_ = RawEntry{};
      state_ = State::kEntry;
      return true;
    }
    return Fail(Where() + "unexpected object");
  }
  bool end_object() override {
    if (state_ == State::kEntry) {
      Result<Entry> e = BuildEntry(raw_);
      if (!e.ok()) {
        error_ = std::move(e).error().AddContext(Where());
        return false;
      }
      manifest_.entries.push_back(std::move(*e));
      state_ = State::kEntries;
      return true;
    }
    state_ = State::kDone;
    return true;
  }
  bool start_array(std::size_t) override {
    if (state_ == State::kTop && key_ == "entries") {
      if (entries_seen_) {
        return Fail("\"entries\" given twice");
      }
      entries_seen_ = true;
      state_ = State::kEntries;
      return true;
    }
    return Fail(Where() + "unexpected array");
  }
  bool end_array() override {
    state_ = State::kTop;
    return true;
  }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    if (!error_) {
      error_ = Error::InvalidArgument(std::string("manifest: bad JSON: ") + e.what());
    }
    return false;
  }

 private:
  enum class State { kStart, kTop, kEntries, kEntry, kDone };
  struct Value {
    std::optional<uint64_t> number;  // a non-negative integer
    std::string* text = nullptr;     // a string
  };

  bool Fail(const std::string& what) {
    error_ = Error::InvalidArgument("manifest: " + what);
    return false;
  }
  std::string Where() const {
    return state_ == State::kEntry || state_ == State::kEntries
               ? "entry " + std::to_string(manifest_.entries.size()) + ": "
               : "";
  }

  bool Scalar(Value v) {
    if (state_ == State::kTop) {
      if (key_ != "version") {
        return Fail(key_ == "entries" ? "\"entries\" is not an array"
                                      : "unknown field \"" + key_ + "\"");
      }
      if (version_seen_ || v.number != uint64_t{kVersion}) {
        return Fail("unsupported or repeated \"version\" (want " + std::to_string(kVersion) + ")");
      }
      version_seen_ = true;
      return true;
    }
    if (state_ != State::kEntry) {
      return Fail(Where() + "unexpected value");
    }
    auto text = [&](std::optional<std::string>& field) {
      if (field) {
        return Fail(Where() + "\"" + key_ + "\" given twice");
      }
      if (v.text == nullptr) {
        return Fail(Where() + "\"" + key_ + "\" is not a string");
      }
      field = std::move(*v.text);
      return true;
    };
    auto number = [&](std::optional<uint64_t>& field) {
      if (field) {
        return Fail(Where() + "\"" + key_ + "\" given twice");
      }
      if (!v.number) {
        return Fail(Where() + "\"" + key_ + "\" is not a non-negative integer");
      }
      field = v.number;
      return true;
    };
    if (key_ == "path") {
      return text(raw_.path);
    }
    if (key_ == "path_hex") {
      return text(raw_.path_hex);
    }
    if (key_ == "type") {
      return text(raw_.type);
    }
    if (key_ == "digest") {
      return text(raw_.digest);
    }
    if (key_ == "target") {
      return text(raw_.target);
    }
    if (key_ == "target_hex") {
      return text(raw_.target_hex);
    }
    if (key_ == "mode") {
      return number(raw_.mode);
    }
    if (key_ == "size") {
      return number(raw_.size);
    }
    return Fail(Where() + "unknown field \"" + key_ + "\"");
  }

  State state_ = State::kStart;
  std::string key_;
  bool version_seen_ = false;
  bool entries_seen_ = false;
  RawEntry raw_;
  Manifest manifest_;
  std::optional<Error> error_;
};

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
  static const digest::Digest empty = digest::FromBytes("");
  return empty;
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
    return Error::InvalidArgument("path longer than " + std::to_string(kMaxPathLength) + " bytes");
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
    std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
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
  std::string out = "{\"version\":" + std::to_string(kVersion) + ",\"entries\":[";
  out.reserve(out.size() + manifest.entries.size() * 160);
  bool first = true;
  for (const Entry& e : manifest.entries) {
    out += first ? "{" : ",{";
    first = false;
    // Starts with a field that has no leading comma, so every later one can have it.
    out += R"("type":")";
    out += EntryTypeName(e.type);
    out += '"';
    AppendStringField(&out, "path", "path_hex", e.path);
    out += ",\"mode\":";
    out += std::to_string(e.mode);
    if (e.type == EntryType::kFile) {
      out += ",\"size\":";
      out += std::to_string(e.size);
      out += R"(,"digest":")";
      out += e.digest.ToString();
      out += '"';
    } else if (e.type == EntryType::kSymlink) {
      AppendStringField(&out, "target", "target_hex", e.link_target);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

Result<Manifest> ParseManifestJson(std::string_view json) {
  if (json.size() > kMaxManifestJsonBytes) {
    return Error::InvalidArgument("manifest: larger than " + std::to_string(kMaxManifestJsonBytes) +
                                  " bytes");
  }
  ManifestSax sax;
  try {
    nlohmann::json::sax_parse(json, &sax);
  } catch (const std::exception& e) {
    return Error::InvalidArgument(std::string("manifest: bad JSON: ") + e.what());
  }
  Manifest m = BERTH_TRY(sax.Take());
  BERTH_TRY(ValidateManifest(m));
  return m;
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

std::vector<std::string> PathsWithDigests(const Manifest& manifest,
                                          const std::vector<digest::Digest>& digests) {
  std::unordered_set<std::string_view> wanted;
  for (const digest::Digest& d : digests) {
    wanted.insert(d.hex());
  }
  std::vector<std::string> out;
  for (const Entry& e : manifest.entries) {
    if (e.type == EntryType::kFile && wanted.contains(e.digest.hex())) {
      out.push_back(e.path);
    }
  }
  return out;
}

digest::Digest ManifestDigest(const Manifest& manifest) {
  return digest::FromBytes(ManifestToJson(manifest));
}

}  // namespace berth::contextsync
