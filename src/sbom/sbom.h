// sbom: the software bill of materials of an image's root file system, as `berth build
// --sbom=true` attaches it (BuildKit runs Syft for this; berth has its own small scanner).
//
// ScanRootfs reads the package databases of a mounted root file system — dpkg (status and the
// distroless status.d/), apk, Python dist-info/egg-info metadata and npm node_modules — and
// SpdxJson writes what it found as an SPDX 2.3 JSON document.
//
// The root file system is untrusted: every byte read from it is input from whoever built the
// image. Every path is resolved inside `root` (openat2 with RESOLVE_IN_ROOT: a symlink
// "/var/lib/dpkg/status -> /etc/shadow" reads the image's /etc/shadow, never the host's),
// directory walks never follow symlinks, only regular files are read, and file sizes, the
// number of entries visited and the depth of walks are capped. The parsers take bytes and never
// touch the file system; a malformed record is skipped (and reported as a warning) or the whole
// file is refused with an error naming the file and line, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/context.h"
#include "base/result.h"

namespace berth::sbom {

struct Package {
  std::string name, version, type;  // type: "deb", "apk", "python", "npm"
  std::string arch;                 // when known
  std::string license;              // the database's license string when it has one, else ""
  std::string source;               // the file it was found in, e.g. "/var/lib/dpkg/status"
  // The package URL, e.g. pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12.
  std::string purl;

  friend bool operator==(const Package&, const Package&) = default;
};

// From /etc/os-release (or /usr/lib/os-release): ID, VERSION_ID, PRETTY_NAME.
struct OsRelease {
  std::string id, version_id, pretty_name;

  friend bool operator==(const OsRelease&, const OsRelease&) = default;
};

struct ScanResult {
  OsRelease os;
  // Sorted by (type, name, version, arch, source), without duplicates.
  std::vector<Package> packages;
  // What was skipped and why, one line each ("/var/lib/dpkg/status:17: ..."): malformed records,
  // unreadable metadata files, walks cut short by a limit. Empty for a clean scan.
  std::vector<std::string> warnings;
};

// Scans the root file system at `root` (a directory: the mounted image), which the scan only
// reads. Missing databases are not errors (a scratch image has none).
// Errors: NotFound / FailedPrecondition when `root` is not a directory; for the dpkg status file
// and the apk database (whose loss would silently empty the SBOM), an I/O error, a file that is
// not a regular file or is too large (ResourceExhausted), or content with no well-formed record
// at all. Per-package metadata that cannot be read or parsed becomes a warning instead.
// Cancelled / DeadlineExceeded when `ctx` is done. Thread-safe; blocks on file I/O.
Result<ScanResult> ScanRootfs(const Context& ctx, const std::string& root);

// The parsers, exposed for tests and the fuzz target. `source` names the file in messages and
// becomes Package::source. Those that read databases of many packages skip a malformed record,
// adding "<source>:<line>: <why>" to `warnings` (when given), and fail (InvalidArgument, naming
// the file and line of the first problem) only when the text holds malformed records and no
// well-formed one.
//
// dpkg status (or one file of status.d/): deb822 stanzas; only packages whose Status is
// "<want> ok installed" (or that have no Status, as in status.d/) are returned.
Result<std::vector<Package>> ParseDpkgStatus(std::string_view text, const OsRelease& os,
                                             std::string_view source,
                                             std::vector<std::string>* warnings = nullptr);
// apk's /lib/apk/db/installed: "K:value" lines, a blank line between packages.
Result<std::vector<Package>> ParseApkInstalled(std::string_view text, const OsRelease& os,
                                               std::string_view source,
                                               std::vector<std::string>* warnings = nullptr);
// A Python distribution's *.dist-info/METADATA or *.egg-info/PKG-INFO (RFC 822 headers): Name,
// Version and License-Expression or a one-line License. InvalidArgument without Name or Version.
Result<Package> ParsePythonMetadata(std::string_view text, std::string_view source);
// node_modules/<name>/package.json: name, version, license (a string, {"type": ...} or the old
// "licenses" array). InvalidArgument for bad JSON (with the line) or without name or version.
Result<Package> ParseNpmPackageJson(std::string_view text, std::string_view source);
// os-release(5): KEY=value lines, values optionally quoted. Unknown keys and bad lines ignored.
OsRelease ParseOsRelease(std::string_view text);

// The package URL (https://github.com/package-url/purl-spec) of a package of `type` "deb",
// "apk", "python" (pkg:pypi, name normalised as PEP 503 does) or "npm" ("@scope/name" gives the
// namespace %40scope). Each part is percent-encoded ('+' -> %2B, ':' -> %3A). The distro
// qualifier is "<os.id>-<os.version_id>" (debian-12, alpine-3.19.0) when os-release has both.
std::string PackageUrl(std::string_view type, std::string_view name, std::string_view version,
                       std::string_view arch, const OsRelease& os);

// The SPDX 2.3 JSON document of `scan`, named `name`, created at `created_unix` (seconds since
// the epoch, written as RFC 3339 UTC) by "Tool: berth-<tool_version>". One SPDX package per
// Package (and one for the operating system, when os-release named one), each DESCRIBED by the
// document, with its purl as a PACKAGE-MANAGER external reference. License strings that are not
// SPDX expressions of known identifiers become LicenseRef-* with the original text in
// hasExtractedLicensingInfos; unknown ones are NOASSERTION. The documentNamespace ends in a hash
// of the content. Deterministic: the same input gives the same bytes.
std::string SpdxJson(const ScanResult& scan, const std::string& name, int64_t created_unix,
                     const std::string& tool_version);

}  // namespace berth::sbom
