// libFuzzer target for sbom's parsers (sbom/sbom.h): dpkg status, apk's installed database,
// Python metadata, package.json and os-release all come from the image being built, which is
// untrusted input. Every input goes to every parser, and what they return to SpdxJson.
//
// Besides crashes, hangs and sanitizer reports, the target traps when a parser returns a package
// without a name or version, or a purl with a character the purl spec says must be encoded, or
// when SpdxJson writes something that is not JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sbom/sbom.h"

namespace {

void Check(const berth::sbom::Package& p) {
  if (p.name.empty() || p.version.empty() || !p.purl.starts_with("pkg:")) {
    __builtin_trap();
  }
  // After "pkg:" only unreserved characters, '%' escapes and the purl separators appear.
  for (char c : std::string_view(p.purl).substr(4)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("-._~%/@?=&").find(c) != std::string_view::npos;
    if (!ok) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  berth::sbom::ScanResult scan;
  scan.os = berth::sbom::ParseOsRelease(input);
  auto add = [&](berth::Result<std::vector<berth::sbom::Package>> packages) {
    if (packages.ok()) {
      for (const auto& p : *packages) {
        Check(p);
        scan.packages.push_back(p);
      }
    }
  };
  std::vector<std::string> warnings;
  add(berth::sbom::ParseDpkgStatus(input, scan.os, "/var/lib/dpkg/status", &warnings));
  add(berth::sbom::ParseApkInstalled(input, scan.os, "/lib/apk/db/installed", &warnings));
  for (auto parsed : {berth::sbom::ParsePythonMetadata(input, "METADATA"),
                      berth::sbom::ParseNpmPackageJson(input, "package.json")}) {
    if (parsed.ok()) {
      Check(*parsed);
      scan.packages.push_back(*parsed);
    }
  }
  std::string doc = berth::sbom::SpdxJson(scan, std::string(input.substr(0, 64)), 0, "fuzz");
  if (!nlohmann::json::accept(doc)) {
    __builtin_trap();
  }
  return 0;
}
