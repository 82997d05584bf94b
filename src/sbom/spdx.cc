// SpdxJson: the SPDX 2.3 JSON document (https://spdx.github.io/spdx-spec/v2.3/).
#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <tuple>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "digest/digest.h"
#include "sbom/sbom.h"

namespace berth::sbom {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kNoAssertion = "NOASSERTION";

// The SPDX license list identifiers the package databases commonly name. Anything else in a
// license string becomes a LicenseRef (with the text kept), so the document never claims an
// identifier the list does not have.
constexpr std::string_view kKnownLicenses[] = {
    "0BSD",
    "AFL-2.1",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.1",
    "Apache-2.0",
    "Artistic-1.0",
    "Artistic-1.0-Perl",
    "Artistic-2.0",
    "BlueOak-1.0.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-4-Clause",
    "BSL-1.0",
    "bzip2-1.0.6",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "curl",
    "EPL-1.0",
    "EPL-2.0",
    "FSFAP",
    "FTL",
    "GFDL-1.2-only",
    "GFDL-1.2-or-later",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0-only",
    "GPL-1.0-or-later",
    "GPL-2.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "GPL-2.0-with-classpath-exception",
    "GPL-3.0-with-GCC-exception",
    "HPND",
    "ICU",
    "IJG",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "libpng-2.0",
    "Libpng",
    "libtiff",
    "MirOS",
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "MPL-1.1",
    "MPL-2.0",
    "NCSA",
    "OFL-1.1",
    "OLDAP-2.8",
    "OpenSSL",
    "PHP-3.01",
    "PostgreSQL",
    "PSF-2.0",
    "Python-2.0",
    "Ruby",
    "Sleepycat",
    "TCL",
    "Unicode-DFS-2016",
    "Unicode-3.0",
    "Unlicense",
    "UPL-1.0",
    "Vim",
    "W3C",
    "WTFPL",
    "X11",
    "XFree86-1.1",
    "Zlib",
    "zlib-acknowledgement",
    "ZPL-2.1",
    "LPPL-1.3c",
};

// License exceptions (after WITH).
constexpr std::string_view kKnownExceptions[] = {
    "Autoconf-exception-2.0", "Bison-exception-2.2", "Classpath-exception-2.0", "GCC-exception-3.1",
    "LLVM-exception",         "Linux-syscall-note",  "Font-exception-2.0",
};

template <size_t N>
std::optional<std::string> Lookup(const std::string_view (&table)[N], std::string_view id) {
  for (std::string_view known : table) {
    if (EqualsIgnoreCase(known, id)) {
      return std::string(known);
    }
  }
  return std::nullopt;
}

// "LicenseRef-" + the text with every character outside [A-Za-z0-9.-] made '-'.
std::string LicenseRef(std::string_view text) {
  std::string id = "LicenseRef-";
  for (unsigned char c : text) {
    id += (std::isalnum(c) != 0 || c == '.' || c == '-') ? static_cast<char>(c) : '-';
  }
  return id;
}

// Turns a database's license string into a valid SPDX license expression, recording the
// LicenseRefs it had to make in `refs` (id -> original text).
class LicenseMapper {
 public:
  std::string Map(std::string_view text) {
    text = Trim(text);
    if (text.empty() || text == kNoAssertion || EqualsIgnoreCase(text, "NONE")) {
      return std::string(text.empty() ? kNoAssertion : text);
    }
    std::optional<std::string> expr = MapExpression(text);
    if (expr) {
      return *expr;
    }
    return Ref(text);
  }

  const std::map<std::string, std::string>& refs() const { return refs_; }

 private:
  std::string Ref(std::string_view text) {
    std::string id = LicenseRef(text);
    refs_.emplace(id, std::string(text));
    return id;
  }

  // Parses `text` as `term ((AND|OR) term)*`, term = id [WITH exception] | "(" expr ")", and
  // rewrites unknown identifiers to LicenseRefs. nullopt when it is not such an expression
  // ("MIT License", "GPL v2"), which then becomes one LicenseRef as a whole.
  std::optional<std::string> MapExpression(std::string_view text) {
    std::vector<std::string> tokens;
    std::string current;
    for (char c : text) {
      if (c == '(' || c == ')' || std::isspace(static_cast<unsigned char>(c)) != 0) {
        if (!current.empty()) {
          tokens.push_back(std::move(current));
          current.clear();
        }
        if (c == '(' || c == ')') {
          tokens.emplace_back(1, c);
        }
      } else {
        current += c;
      }
    }
    if (!current.empty()) {
      tokens.push_back(std::move(current));
    }
    size_t pos = 0;
    std::string out;
    std::map<std::string, std::string> new_refs;
    if (!ParseExpr(tokens, &pos, 0, &out, &new_refs) || pos != tokens.size()) {
      return std::nullopt;
    }
    refs_.insert(new_refs.begin(), new_refs.end());
    return out;
  }

  static bool IsOperator(std::string_view t) { return t == "AND" || t == "OR" || t == "WITH"; }

  static bool IsIdentifier(std::string_view t) {
    if (t.empty() || IsOperator(t)) {
      return false;
    }
    return std::all_of(t.begin(), t.end(), [](unsigned char c) {
      return std::isalnum(c) != 0 || c == '.' || c == '-' || c == '+';
    });
  }

  bool ParseExpr(const std::vector<std::string>& tokens, size_t* pos, int depth, std::string* out,
                 std::map<std::string, std::string>* refs) {
    if (depth > 16 || !ParseTerm(tokens, pos, depth, out, refs)) {
      return false;
    }
    while (*pos < tokens.size() && (tokens[*pos] == "AND" || tokens[*pos] == "OR")) {
      *out += " " + tokens[(*pos)++] + " ";
      if (!ParseTerm(tokens, pos, depth, out, refs)) {
        return false;
      }
    }
    return true;
  }

  bool ParseTerm(const std::vector<std::string>& tokens, size_t* pos, int depth, std::string* out,
                 std::map<std::string, std::string>* refs) {
    if (*pos >= tokens.size()) {
      return false;
    }
    if (tokens[*pos] == "(") {
      ++*pos;
      *out += "(";
      if (!ParseExpr(tokens, pos, depth + 1, out, refs) || *pos >= tokens.size() ||
          tokens[*pos] != ")") {
        return false;
      }
      ++*pos;
      *out += ")";
      return true;
    }
    const std::string& id = tokens[*pos];
    if (!IsIdentifier(id)) {
      return false;
    }
    ++*pos;
    if (id.starts_with("LicenseRef-")) {
      // A reference the database made up itself: the text is all we have of it.
      refs->emplace(LicenseRef(id.substr(11)), id);
      *out += LicenseRef(id.substr(11));
    } else if (std::optional<std::string> known = Lookup(kKnownLicenses, id)) {
      *out += *known;
    } else if (id.size() > 1 && id.back() == '+' &&
               Lookup(kKnownLicenses, id.substr(0, id.size() - 1))) {
      *out += *Lookup(kKnownLicenses, id.substr(0, id.size() - 1)) + "+";
    } else {
      std::string ref = LicenseRef(id);
      refs->emplace(ref, id);
      *out += ref;
    }
    if (*pos < tokens.size() && tokens[*pos] == "WITH") {
      ++*pos;
      if (*pos >= tokens.size() || !IsIdentifier(tokens[*pos])) {
        return false;
      }
      std::optional<std::string> exception = Lookup(kKnownExceptions, tokens[*pos]);
      if (!exception) {
        return false;  // an exception has no LicenseRef form; the whole string becomes one
      }
      ++*pos;
      *out += " WITH " + *exception;
    }
    return true;
  }

  std::map<std::string, std::string> refs_;
};

std::string Rfc3339(int64_t unix_seconds) {
  auto t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) {
    t = 0;
    gmtime_r(&t, &tm);
  }
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {buf, n};
}

// SPDX identifiers are "SPDXRef-" + [A-Za-z0-9.-]+.
std::string IdPart(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    out += (std::isalnum(c) != 0 || c == '.' || c == '-') ? static_cast<char>(c) : '-';
  }
  return out.empty() ? "x" : out;
}

std::string PackageKey(const Package& p) {
  // NUL-separated so that no two different packages share a key.
  std::string key;
  for (const std::string* part :
       {&p.type, &p.name, &p.version, &p.arch, &p.source, &p.purl, &p.license}) {
    key += *part;
    key += '\0';
  }
  return key;
}

std::string SourceInfo(const Package& p) {
  if (p.type == "deb") {
    return "acquired package info from the dpkg database: " + p.source;
  }
  if (p.type == "apk") {
    return "acquired package info from the apk database: " + p.source;
  }
  if (p.type == "python") {
    return "acquired package info from installed Python package metadata: " + p.source;
  }
  if (p.type == "npm") {
    return "acquired package info from installed node module manifest: " + p.source;
  }
  return "acquired package info from: " + p.source;
}

}  // namespace

std::string SpdxJson(const ScanResult& scan, const std::string& name, int64_t created_unix,
                     const std::string& tool_version) {
  std::vector<Package> packages = scan.packages;
  auto order = [](const Package& a, const Package& b) {
    return std::tie(a.type, a.name, a.version, a.arch, a.source, a.purl, a.license) <
           std::tie(b.type, b.name, b.version, b.arch, b.source, b.purl, b.license);
  };
  std::sort(packages.begin(), packages.end(), order);
  packages.erase(std::unique(packages.begin(), packages.end()), packages.end());

  LicenseMapper licenses;
  Json spdx_packages = Json::array();
  Json relationships = Json::array();
  // The hash that makes the document namespace unique covers everything the document says.
  std::string content = name + '\0' + std::to_string(created_unix) + '\0' + tool_version + '\0' +
                        scan.os.id + '\0' + scan.os.version_id + '\0' + scan.os.pretty_name + '\0';

  auto describe = [&](const std::string& id) {
    relationships.push_back(Json{{"spdxElementId", "SPDXRef-DOCUMENT"},
                                 {"relatedSpdxElement", id},
                                 {"relationshipType", "DESCRIBES"}});
  };

  if (!scan.os.id.empty()) {
    std::string id = "SPDXRef-OperatingSystem-" + IdPart(scan.os.id);
    Json os = {{"name", scan.os.id},
               {"SPDXID", id},
               {"versionInfo", scan.os.version_id},
               {"downloadLocation", kNoAssertion},
               {"filesAnalyzed", false},
               {"licenseConcluded", kNoAssertion},
               {"licenseDeclared", kNoAssertion},
               {"primaryPackagePurpose", "OPERATING-SYSTEM"}};
    if (!scan.os.pretty_name.empty()) {
      os["description"] = scan.os.pretty_name;
    }
    spdx_packages.push_back(std::move(os));
    describe(id);
  }

  for (const Package& p : packages) {
    std::string key = PackageKey(p);
    content += key;
    // Type and name keep the identifier readable; the hash keeps it unique (the same name may
    // be installed twice, for two architectures or in two node_modules directories).
    std::string id = "SPDXRef-Package-" + IdPart(p.type) + "-" + IdPart(p.name) + "-" +
                     digest::FromBytes(key).hex().substr(0, 16);
    std::string license = licenses.Map(p.license);
    Json pkg = {{"name", p.name},
                {"SPDXID", id},
                {"versionInfo", p.version},
                {"supplier", kNoAssertion},
                {"downloadLocation", kNoAssertion},
                {"filesAnalyzed", false},
                {"sourceInfo", SourceInfo(p)},
                {"licenseConcluded", kNoAssertion},
                {"licenseDeclared", license},
                {"copyrightText", kNoAssertion}};
    if (!p.purl.empty()) {
      pkg["externalRefs"] = Json::array({Json{{"referenceCategory", "PACKAGE-MANAGER"},
                                              {"referenceType", "purl"},
                                              {"referenceLocator", p.purl}}});
    }
    spdx_packages.push_back(std::move(pkg));
    describe(id);
  }

  Json doc = {{"spdxVersion", "SPDX-2.3"},
              {"dataLicense", "CC0-1.0"},
              {"SPDXID", "SPDXRef-DOCUMENT"},
              {"name", name}};
  std::string encoded_name;
  for (unsigned char c : name) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    if (std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_' || c == '~') {
      encoded_name += static_cast<char>(c);
    } else {
      encoded_name += '%';
      encoded_name += kHex[c >> 4];
      encoded_name += kHex[c & 0xf];
    }
  }
  doc["documentNamespace"] =
      "https://berth.invalid/spdx/" + encoded_name + "-" + digest::FromBytes(content).hex();
  doc["creationInfo"] = Json{{"created", Rfc3339(created_unix)},
                             {"creators", Json::array({"Tool: berth-" + tool_version})}};
  doc["packages"] = std::move(spdx_packages);
  if (!licenses.refs().empty()) {
    Json extracted = Json::array();
    for (const auto& [id, text] : licenses.refs()) {
      extracted.push_back(Json{{"licenseId", id}, {"name", text}, {"extractedText", text}});
    }
    doc["hasExtractedLicensingInfos"] = std::move(extracted);
  }
  doc["relationships"] = std::move(relationships);
  // Image bytes need not be UTF-8: invalid sequences become U+FFFD rather than an exception.
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace berth::sbom
