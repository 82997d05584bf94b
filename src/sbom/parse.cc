// The package database parsers and package URLs. Everything here works on bytes; nothing
// touches the file system.
#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "sbom/sbom.h"

namespace berth::sbom {
namespace {

// A stanza-level problem with the line it is on.
struct Problem {
  size_t line = 0;
  std::string why;
};

// Splits `text` into lines, dropping a trailing '\r' (files written on Windows) from each.
// Calls fn(line_number, line) for each, numbering from 1.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  size_t number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    fn(++number, line);
  }
}

std::string Where(std::string_view source, size_t line) {
  return std::string(source) + ":" + std::to_string(line);
}

// Shared by the two multi-package databases: collects skipped records as warnings and decides,
// at the end, whether the file as a whole is acceptable.
class RecordLog {
 public:
  RecordLog(std::string_view source, std::vector<std::string>* warnings)
      : source_(source), warnings_(warnings) {}

  void Skip(const Problem& problem) {
    std::string line = Where(source_, problem.line) + ": " + problem.why;
    if (first_error_.empty()) {
      first_error_ = line;
    }
    if (warnings_ != nullptr) {
      warnings_->push_back(std::move(line));
    }
    ++skipped_;
  }
  void WellFormed() { ++well_formed_; }

  Result<std::vector<Package>> Finish(std::vector<Package> packages) const {
    if (skipped_ > 0 && well_formed_ == 0) {
      return Error::InvalidArgument(first_error_ + " (and no well-formed record in the file)");
    }
    return packages;
  }

 private:
  std::string_view source_;
  std::vector<std::string>* warnings_;
  std::string first_error_;
  size_t skipped_ = 0;
  size_t well_formed_ = 0;
};

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_' || c == '~';
}

// Percent-encodes everything but the unreserved characters of RFC 3986, as the purl spec asks of
// each component (so '+' -> %2B, ':' -> %3A, '@' -> %40, '/' -> %2F).
std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (IsUnreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// PEP 503: lower case, every run of '-', '_' and '.' one '-'.
std::string NormalizePythonName(std::string_view name) {
  std::string out;
  bool in_run = false;
  for (unsigned char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (!in_run) {
        out += '-';
      }
      in_run = true;
      continue;
    }
    in_run = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

// dpkg's Status is "<want> <flag> <status>"; the package's files are on disk when the flag is
// "ok" and the status "installed". The want ("install", "hold", "deinstall", "purge") is what
// the administrator asked for next, not what is there: a held package is as installed as any.
bool DpkgInstalled(std::string_view status) {
  std::vector<std::string> words;
  for (const std::string& w : StrSplit(Trim(status), ' ')) {
    if (!w.empty()) {
      words.push_back(w);
    }
  }
  return words.size() == 3 && words[1] == "ok" && words[2] == "installed";
}

}  // namespace

std::string PackageUrl(std::string_view type, std::string_view name, std::string_view version,
                       std::string_view arch, const OsRelease& os) {
  std::string purl = "pkg:";
  bool distro_packages = false;
  if (type == "deb" || type == "apk") {
    distro_packages = true;
    std::string vendor = ToLower(os.id);
    if (vendor.empty()) {
      vendor = type == "deb" ? "debian" : "alpine";
    }
    purl += std::string(type) + "/" + PercentEncode(vendor) + "/" + PercentEncode(name);
  } else if (type == "python") {
    purl += "pypi/" + PercentEncode(NormalizePythonName(name));
  } else if (type == "npm") {
    std::string lower = ToLower(name);
    size_t slash = lower.find('/');
    purl += "npm/";
    if (!lower.empty() && lower[0] == '@' && slash != std::string::npos) {
      std::string_view scoped = lower;
      purl +=
          PercentEncode(scoped.substr(0, slash)) + "/" + PercentEncode(scoped.substr(slash + 1));
    } else {
      purl += PercentEncode(lower);
    }
  } else {
    purl += PercentEncode(ToLower(type)) + "/" + PercentEncode(name);
  }
  if (!version.empty()) {
    purl += "@" + PercentEncode(version);
  }
  // Qualifiers sorted by key, as the spec's canonical form has them.
  std::vector<std::pair<std::string, std::string>> qualifiers;
  if (!arch.empty()) {
    qualifiers.emplace_back("arch", std::string(arch));
  }
  if (distro_packages && !os.id.empty() && !os.version_id.empty()) {
    qualifiers.emplace_back("distro", ToLower(os.id) + "-" + os.version_id);
  }
  char sep = '?';
  for (const auto& [key, value] : qualifiers) {
    purl += sep + key + "=" + PercentEncode(value);
    sep = '&';
  }
  return purl;
}

Result<std::vector<Package>> ParseDpkgStatus(std::string_view text, const OsRelease& os,
                                             std::string_view source,
                                             std::vector<std::string>* warnings) {
  struct Stanza {
    size_t first_line = 0;
    bool has_field = false;
    std::optional<Problem> problem;
    std::optional<std::string> package, version, arch, status;
  };
  RecordLog log(source, warnings);
  std::vector<Package> packages;
  Stanza stanza;

  auto finish = [&] {
    if (stanza.first_line == 0) {
      return;  // no stanza open (blank lines between stanzas)
    }
    if (!stanza.problem && !stanza.package) {
      stanza.problem = Problem{stanza.first_line, "stanza without a Package field"};
    }
    if (!stanza.problem && (!stanza.version || stanza.version->empty())) {
      stanza.problem = Problem{stanza.first_line, "package " + *stanza.package + " has no Version"};
    }
    if (stanza.problem) {
      log.Skip(*stanza.problem);
    } else {
      log.WellFormed();
      if (!stanza.status || DpkgInstalled(*stanza.status)) {
        Package p;
        p.name = *stanza.package;
        p.version = *stanza.version;
        p.type = "deb";
        p.arch = stanza.arch.value_or("");
        p.source = std::string(source);
        p.purl = PackageUrl(p.type, p.name, p.version, p.arch, os);
        packages.push_back(std::move(p));
      }
    }
    stanza = Stanza();
  };

  ForEachLine(text, [&](size_t number, std::string_view line) {
    if (Trim(line).empty()) {
      finish();
      return;
    }
    if (stanza.first_line == 0) {
      stanza.first_line = number;
    }
    if (stanza.problem) {
      return;  // the rest of a stanza already being skipped
    }
    if (line[0] == ' ' || line[0] == '\t') {
      // A continuation of the previous field (Description, Conffiles); none of those we read.
      if (!stanza.has_field) {
        stanza.problem = Problem{number, "continuation line before any field"};
      }
      return;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      stanza.problem = Problem{number, "expected \"Field: value\""};
      return;
    }
    stanza.has_field = true;
    std::string_view field = line.substr(0, colon);
    std::string value(Trim(line.substr(colon + 1)));
    std::optional<std::string>* slot = nullptr;
    if (EqualsIgnoreCase(field, "Package")) {
      slot = &stanza.package;
    } else if (EqualsIgnoreCase(field, "Version")) {
      slot = &stanza.version;
    } else if (EqualsIgnoreCase(field, "Architecture")) {
      slot = &stanza.arch;
    } else if (EqualsIgnoreCase(field, "Status")) {
      slot = &stanza.status;
    }
    if (slot == nullptr) {
      return;
    }
    if (slot->has_value()) {
      stanza.problem = Problem{number, "duplicate field " + std::string(field)};
      return;
    }
    if (value.empty() && slot == &stanza.package) {
      stanza.problem = Problem{number, "empty Package field"};
      return;
    }
    *slot = std::move(value);
  });
  finish();
  return log.Finish(std::move(packages));
}

Result<std::vector<Package>> ParseApkInstalled(std::string_view text, const OsRelease& os,
                                               std::string_view source,
                                               std::vector<std::string>* warnings) {
  struct Record {
    size_t first_line = 0;
    std::optional<Problem> problem;
    std::optional<std::string> name, version, arch, license;
  };
  RecordLog log(source, warnings);
  std::vector<Package> packages;
  Record record;

  auto finish = [&] {
    if (record.first_line == 0) {
      return;
    }
    if (!record.problem && (!record.name || record.name->empty())) {
      record.problem = Problem{record.first_line, "package record without a P: line"};
    }
    if (!record.problem && (!record.version || record.version->empty())) {
      record.problem = Problem{record.first_line, "package " + *record.name + " has no V: line"};
    }
    if (record.problem) {
      log.Skip(*record.problem);
    } else {
      log.WellFormed();
      Package p;
      p.name = *record.name;
      p.version = *record.version;
      p.type = "apk";
      p.arch = record.arch.value_or("");
      p.license = record.license.value_or("");
      p.source = std::string(source);
      p.purl = PackageUrl(p.type, p.name, p.version, p.arch, os);
      packages.push_back(std::move(p));
    }
    record = Record();
  };

  ForEachLine(text, [&](size_t number, std::string_view line) {
    if (Trim(line).empty()) {
      finish();
      return;
    }
    if (record.first_line == 0) {
      record.first_line = number;
    }
    if (record.problem) {
      return;
    }
    if (line.size() < 2 || line[1] != ':') {
      record.problem = Problem{number, "expected \"K:value\""};
      return;
    }
    std::optional<std::string>* slot = nullptr;
    switch (line[0]) {
      case 'P':
        slot = &record.name;
        break;
      case 'V':
        slot = &record.version;
        break;
      case 'A':
        slot = &record.arch;
        break;
      case 'L':
        slot = &record.license;
        break;
      default:
        return;  // checksums, origin, files (F:, R:, a:, Z:) and the rest
    }
    if (slot->has_value()) {
      record.problem = Problem{number, "duplicate " + std::string(line.substr(0, 2)) + " line"};
      return;
    }
    *slot = std::string(Trim(line.substr(2)));
  });
  finish();
  return log.Finish(std::move(packages));
}

Result<Package> ParsePythonMetadata(std::string_view text, std::string_view source) {
  // Core metadata is RFC 822 headers up to the first blank line; the body (the long
  // description) follows and is not read. A value continued on further lines (License with the
  // whole license text, say) is marked multi-line.
  struct Header {
    std::string value;
    bool multiline = false;
  };
  std::optional<Header> name, version, license, license_expression;
  std::optional<Header>* last = nullptr;
  bool in_headers = true;
  std::optional<Problem> problem;

  ForEachLine(text, [&](size_t number, std::string_view line) {
    if (!in_headers || problem) {
      return;
    }
    if (line.empty()) {
      in_headers = false;
      return;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (last != nullptr && last->has_value()) {
        (*last)->multiline = true;
      }
      return;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      problem = Problem{number, "expected \"Field: value\""};
      return;
    }
    std::string_view field = line.substr(0, colon);
    last = nullptr;
    if (EqualsIgnoreCase(field, "Name")) {
      last = &name;
    } else if (EqualsIgnoreCase(field, "Version")) {
      last = &version;
    } else if (EqualsIgnoreCase(field, "License")) {
      last = &license;
    } else if (EqualsIgnoreCase(field, "License-Expression")) {
      last = &license_expression;
    }
    if (last == nullptr) {
      return;
    }
    if (last->has_value()) {
      last = nullptr;  // the first occurrence wins; a later one is not continued either
      return;
    }
    *last = Header{std::string(Trim(line.substr(colon + 1)))};
  });
  if (problem) {
    return Error::InvalidArgument(Where(source, problem->line) + ": " + problem->why);
  }
  if (!name || name->value.empty() || name->multiline) {
    return Error::InvalidArgument(std::string(source) + ": no Name field");
  }
  if (!version || version->value.empty() || version->multiline) {
    return Error::InvalidArgument(std::string(source) + ": no Version field");
  }
  Package p;
  p.name = name->value;
  p.version = version->value;
  p.type = "python";
  p.source = std::string(source);
  // License-Expression (metadata 2.4) is SPDX by definition. License is free text: kept only as
  // a short single line ("MIT", "Apache 2.0"), since many distributions put the whole license
  // text there.
  constexpr size_t kMaxLicense = 200;
  if (license_expression && !license_expression->multiline && !license_expression->value.empty() &&
      license_expression->value.size() <= kMaxLicense) {
    p.license = license_expression->value;
  } else if (license && !license->multiline && !license->value.empty() &&
             license->value.size() <= kMaxLicense && !EqualsIgnoreCase(license->value, "UNKNOWN")) {
    p.license = license->value;
  }
  p.purl = PackageUrl(p.type, p.name, p.version, "", OsRelease());
  return p;
}

namespace {

// Reads only the members ParseNpmPackageJson needs, without building the document: a
// package.json is untrusted and may be a megabyte of nesting.
class NpmSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  static constexpr size_t kMaxDepth = 256;

  std::optional<std::string> name, version, license, license_type;
  std::vector<std::string> licenses;
  std::string error;
  size_t error_offset = 0;

  bool null() override { return Value(); }
  bool boolean(bool /*val*/) override { return Value(); }
  bool number_integer(number_integer_t /*val*/) override { return Value(); }
  bool number_unsigned(number_unsigned_t /*val*/) override { return Value(); }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return Value(); }
  bool binary(binary_t& /*val*/) override { return Value(); }
  bool string(string_t& val) override {
    if (!Value()) {
      return false;
    }
    size_t depth = frames_.size();
    if (depth == 1 && !frames_[0].array) {
      const std::string& key = frames_[0].key;
      if (key == "name") {
        name = val;
      } else if (key == "version") {
        version = val;
      } else if (key == "license") {
        license = val;
      }
    } else if (depth == 2 && frames_[0].key == "license" && !frames_[1].array &&
               frames_[1].key == "type") {
      license_type = val;
    } else if (depth >= 2 && frames_[0].key == "licenses" && frames_[1].array &&
               (depth == 2 || (depth == 3 && !frames_[2].array && frames_[2].key == "type"))) {
      licenses.push_back(val);
    }
    return true;
  }
  bool start_object(std::size_t /*elements*/) override { return Open(false); }
  bool key(string_t& val) override {
    frames_.back().key = val;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) override { return Open(true); }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override {
    error = ex.what();
    // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ...".
    if (size_t close = error.find("] ");
        error.starts_with("[json.") && close != std::string::npos) {
      error.erase(0, close + 2);
    }
    error_offset = position;
    return false;
  }

 private:
  struct Frame {
    bool array = false;
    std::string key;
  };

  // A value at the top level must be the one object a package.json is.
  bool Value() {
    if (frames_.empty()) {
      error = "package.json is not a JSON object";
      return false;
    }
    return true;
  }
  bool Open(bool array) {
    if (frames_.empty() && (array || seen_top_)) {
      error = "package.json is not a JSON object";
      return false;
    }
    if (frames_.size() >= kMaxDepth) {
      error = "JSON nested deeper than " + std::to_string(kMaxDepth);
      return false;
    }
    seen_top_ = true;
    frames_.push_back(Frame{array, ""});
    return true;
  }

  std::vector<Frame> frames_;
  bool seen_top_ = false;
};

}  // namespace

Result<Package> ParseNpmPackageJson(std::string_view text, std::string_view source) {
  NpmSax sax;
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const std::exception& e) {
    return Error::InvalidArgument(std::string(source) + ": " + e.what());
  }
  if (!ok) {
    std::string where(source);
    if (sax.error_offset > 0) {
      size_t offset = std::min(sax.error_offset, text.size());
      size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
      where = Where(source, line);
    }
    return Error::InvalidArgument(where + ": " +
                                  (sax.error.empty() ? "invalid package.json" : sax.error));
  }
  if (!sax.name || sax.name->empty()) {
    return Error::InvalidArgument(std::string(source) + ": no \"name\"");
  }
  if (!sax.version || sax.version->empty()) {
    return Error::InvalidArgument(std::string(source) + ": no \"version\"");
  }
  Package p;
  p.name = *sax.name;
  p.version = *sax.version;
  p.type = "npm";
  p.source = std::string(source);
  if (sax.license && !sax.license->empty()) {
    p.license = *sax.license;
  } else if (sax.license_type && !sax.license_type->empty()) {
    p.license = *sax.license_type;
  } else if (!sax.licenses.empty()) {
    // The old "licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}] offered a choice.
    std::vector<std::string> parts;
    for (const std::string& l : sax.licenses) {
      if (!l.empty()) {
        parts.push_back(l);
      }
    }
    p.license = parts.size() > 1 ? "(" + StrJoin(parts, " OR ") + ")" : StrJoin(parts, "");
  }
  p.purl = PackageUrl(p.type, p.name, p.version, "", OsRelease());
  return p;
}

OsRelease ParseOsRelease(std::string_view text) {
  OsRelease os;
  ForEachLine(text, [&](size_t /*number*/, std::string_view raw) {
    std::string_view line = Trim(raw);
    if (line.empty() || line[0] == '#') {
      return;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return;
    }
    std::string_view key = line.substr(0, eq);
    std::string_view rest = line.substr(eq + 1);
    // Values follow shell quoting: "…" with \", \\, \$, \` escapes, '…' literal, or bare.
    std::string value;
    if (!rest.empty() && (rest[0] == '"' || rest[0] == '\'')) {
      char quote = rest[0];
      for (size_t i = 1; i < rest.size() && rest[i] != quote; ++i) {
        if (quote == '"' && rest[i] == '\\' && i + 1 < rest.size()) {
          ++i;
        }
        value += rest[i];
      }
    } else {
      value = std::string(rest);
    }
    if (key == "ID") {
      os.id = std::move(value);
    } else if (key == "VERSION_ID") {
      os.version_id = std::move(value);
    } else if (key == "PRETTY_NAME") {
      os.pretty_name = std::move(value);
    }
  });
  return os;
}

}  // namespace berth::sbom
