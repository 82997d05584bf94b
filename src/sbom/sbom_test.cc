#include "sbom/sbom.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace berth::sbom {

// Readable failure messages for the value types.
void PrintTo(const OsRelease& os, std::ostream* out) {
  *out << "{" << os.id << ", " << os.version_id << ", " << os.pretty_name << "}";
}

namespace {

namespace fs = std::filesystem;

const OsRelease kDebian{"debian", "12", "Debian GNU/Linux 12 (bookworm)"};
const OsRelease kAlpine{"alpine", "3.19.0", "Alpine Linux v3.19"};

constexpr std::string_view kDpkgStatus = R"(Package: bash
Essential: yes
Status: install ok installed
Priority: required
Section: shells
Installed-Size: 7164
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Multi-Arch: foreign
Source: bash (5.2.15-2)
Version: 5.2.15-2+b2
Replaces: bash-completion (<< 20060301-0), bash-doc (<= 2.05-1)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Recommends: bash-completion (>= 20060301-0)
Conffiles:
 /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d
 /etc/skel/.bashrc 7c9fe8d1ee9d5a3c8d7e5e9c1e8f4d1b
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter that executes
 commands read from the standard input or from a file.
 .
 Bash is ultimately intended to be a conformant implementation of the
 IEEE POSIX Shell and Tools specification (IEEE Working Group 1003.2).
Homepage: http://tiswww.case.edu/php/chet/bash/bashtop.html

Package: vim-tiny
Status: deinstall ok config-files
Priority: important
Architecture: amd64
Version: 2:9.0.1378-2
Description: Vi IMproved - enhanced vi editor - compact version

Package: libc6
Status: hold ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries

Package: nano
Status: install reinstreq half-installed
Architecture: amd64
Version: 7.2-1

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
Description: time zone and daylight-saving time data
)";

std::vector<std::string> Names(const std::vector<Package>& packages) {
  std::vector<std::string> names;
  for (const Package& p : packages) {
    names.push_back(p.type + ":" + p.name + "@" + p.version);
  }
  return names;
}

const Package* Find(const std::vector<Package>& packages, std::string_view type,
                    std::string_view name) {
  for (const Package& p : packages) {
    if (p.type == type && p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

TEST(DpkgStatusTest, InstalledPackagesOnly) {
  std::vector<std::string> warnings;
  auto packages = ParseDpkgStatus(kDpkgStatus, kDebian, "/var/lib/dpkg/status", &warnings);
  ASSERT_TRUE(packages.ok()) << packages.error().ToString();
  EXPECT_TRUE(warnings.empty());
  // vim-tiny is removed (its config files remain), nano half-installed; libc6 is held, which is
  // still installed.
  EXPECT_EQ(Names(*packages),
            (std::vector<std::string>{"deb:bash@5.2.15-2+b2", "deb:libc6@2.36-9+deb12u4",
                                      "deb:tzdata@2024a-0+deb12u1"}));
  const Package& bash = (*packages)[0];
  EXPECT_EQ(bash.arch, "amd64");
  EXPECT_EQ(bash.source, "/var/lib/dpkg/status");
  EXPECT_EQ(bash.license, "");
  EXPECT_EQ(bash.purl, "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12");
  EXPECT_EQ((*packages)[2].purl,
            "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12");
}

TEST(DpkgStatusTest, EpochAndUnknownOs) {
  auto packages = ParseDpkgStatus(
      "Package: vim\nStatus: install ok installed\nVersion: 2:9.0.1378-2\nArchitecture: arm64\n",
      OsRelease(), "status");
  ASSERT_TRUE(packages.ok());
  ASSERT_EQ(packages->size(), 1u);
  EXPECT_EQ((*packages)[0].purl, "pkg:deb/debian/vim@2%3A9.0.1378-2?arch=arm64");
}

TEST(DpkgStatusTest, CrlfAndNoTrailingNewline) {
  auto packages = ParseDpkgStatus("Package: a\r\nVersion: 1\r\n\r\nPackage: b\r\nVersion: 2",
                                  kDebian, "status");
  ASSERT_TRUE(packages.ok());
  EXPECT_EQ(Names(*packages), (std::vector<std::string>{"deb:a@1", "deb:b@2"}));
}

TEST(DpkgStatusTest, MalformedStanzasAreSkippedWithFileAndLine) {
  std::string text =
      "Package: good\nStatus: install ok installed\nVersion: 1.0\n\n"
      "Package: broken\nthis line has no colon\nVersion: 2.0\n\n"
      " continuation first\nPackage: x\nVersion: 1\n\n"
      "Package: noversion\nStatus: install ok installed\n\n"
      "Version: 3\n\n"
      "Package: twice\nPackage: twice\nVersion: 1\n";
  std::vector<std::string> warnings;
  auto packages = ParseDpkgStatus(text, kDebian, "/var/lib/dpkg/status", &warnings);
  ASSERT_TRUE(packages.ok()) << packages.error().ToString();
  EXPECT_EQ(Names(*packages), std::vector<std::string>{"deb:good@1.0"});
  ASSERT_EQ(warnings.size(), 5u);
  EXPECT_EQ(warnings[0], "/var/lib/dpkg/status:6: expected \"Field: value\"");
  EXPECT_EQ(warnings[1], "/var/lib/dpkg/status:9: continuation line before any field");
  EXPECT_EQ(warnings[2], "/var/lib/dpkg/status:13: package noversion has no Version");
  EXPECT_EQ(warnings[3], "/var/lib/dpkg/status:16: stanza without a Package field");
  EXPECT_EQ(warnings[4], "/var/lib/dpkg/status:19: duplicate field Package");
}

TEST(DpkgStatusTest, NothingWellFormedIsAnError) {
  auto packages = ParseDpkgStatus(
      "\x7f"
      "ELF\x02\x01\x01binary junk\n",
      kDebian, "status");
  ASSERT_FALSE(packages.ok());
  EXPECT_EQ(packages.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(packages.error().message().find("status:1:"), std::string::npos)
      << packages.error().message();
  // Empty is fine: an image whose dpkg database lists nothing.
  auto empty = ParseDpkgStatus("", kDebian, "status");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

constexpr std::string_view kApkInstalled = R"(C:Q1Ekmp3fjNw8PvtTIqGBmjE38+0f8=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407287
I:651264
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1701354014
c:7ab6e5d2a15f26d5d7bd5e53ab3e2c29c1c3e9d3
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1aGuZ5h8S6H7xC8bAMYj4jsTGRMo=

C:Q1Ub4oKyQJr6Wf9/7vwLq/6kCP7Qk=
P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
F:bin
R:busybox
)";

TEST(ApkInstalledTest, Packages) {
  std::vector<std::string> warnings;
  auto packages = ParseApkInstalled(kApkInstalled, kAlpine, "/lib/apk/db/installed", &warnings);
  ASSERT_TRUE(packages.ok()) << packages.error().ToString();
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(packages->size(), 2u);
  const Package& musl = (*packages)[0];
  EXPECT_EQ(musl.name, "musl");
  EXPECT_EQ(musl.version, "1.2.4_git20230717-r4");
  EXPECT_EQ(musl.arch, "x86_64");
  EXPECT_EQ(musl.license, "MIT");
  EXPECT_EQ(musl.type, "apk");
  EXPECT_EQ(musl.purl, "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.0");
  EXPECT_EQ((*packages)[1].license, "GPL-2.0-only");
}

TEST(ApkInstalledTest, MalformedRecords) {
  std::vector<std::string> warnings;
  auto packages =
      ParseApkInstalled("P:ok\nV:1\n\nP:bad\nnot a field\nV:2\n\nV:3\n", kAlpine, "db", &warnings);
  ASSERT_TRUE(packages.ok());
  EXPECT_EQ(Names(*packages), std::vector<std::string>{"apk:ok@1"});
  EXPECT_EQ(warnings, (std::vector<std::string>{"db:5: expected \"K:value\"",
                                                "db:8: package record without a P: line"}));
  auto bad = ParseApkInstalled("garbage\n", kAlpine, "db");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("db:1:"), std::string::npos);
}

TEST(PythonMetadataTest, Fields) {
  auto p = ParsePythonMetadata(
      "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0\nSummary: YAML parser\n"
      "License: MIT\nClassifier: License :: OSI Approved :: MIT License\n\nName: NotThis\n",
      "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->name, "PyYAML");
  EXPECT_EQ(p->version, "6.0");
  EXPECT_EQ(p->type, "python");
  EXPECT_EQ(p->license, "MIT");
  EXPECT_EQ(p->purl, "pkg:pypi/pyyaml@6.0");
  EXPECT_EQ(p->source, "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA");
}

TEST(PythonMetadataTest, LicenseChoices) {
  auto expr = ParsePythonMetadata(
      "Name: zope.interface\nVersion: 6.0\nLicense: ZPL 2.1\nLicense-Expression: ZPL-2.1\n", "m");
  ASSERT_TRUE(expr.ok());
  EXPECT_EQ(expr->license, "ZPL-2.1");
  EXPECT_EQ(expr->purl, "pkg:pypi/zope-interface@6.0");
  // The whole license text in License: not a license string.
  auto text = ParsePythonMetadata(
      "Name: x\nVersion: 1\nLicense: Copyright (c) 2020\n        Permission is hereby granted\n",
      "m");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->license, "");
  auto unknown = ParsePythonMetadata("Name: x\nVersion: 1\nLicense: UNKNOWN\n", "m");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->license, "");
}

TEST(PythonMetadataTest, Errors) {
  auto no_version = ParsePythonMetadata("Name: x\n\nVersion: 1\n", "a/METADATA");
  ASSERT_FALSE(no_version.ok());
  EXPECT_EQ(no_version.error().message(), "a/METADATA: no Version field");
  auto bad_line = ParsePythonMetadata("Name: x\nVersion 1\n", "a/METADATA");
  ASSERT_FALSE(bad_line.ok());
  EXPECT_EQ(bad_line.error().message(), "a/METADATA:2: expected \"Field: value\"");
}

TEST(NpmPackageJsonTest, Fields) {
  auto p = ParseNpmPackageJson(R"({
    "name": "@babel/core", "version": "7.23.0",
    "scripts": {"licenses": "npx licensee", "name": "not this"},
    "license": "MIT", "dependencies": {"a": {"version": "0"}}
  })",
                               "/app/node_modules/@babel/core/package.json");
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->name, "@babel/core");
  EXPECT_EQ(p->version, "7.23.0");
  EXPECT_EQ(p->license, "MIT");
  EXPECT_EQ(p->type, "npm");
  EXPECT_EQ(p->purl, "pkg:npm/%40babel/core@7.23.0");
}

TEST(NpmPackageJsonTest, OldLicenseForms) {
  auto object = ParseNpmPackageJson(
      R"({"name":"a","version":"1.0.0","license":{"type":"ISC","url":"x"}})", "p");
  ASSERT_TRUE(object.ok());
  EXPECT_EQ(object->license, "ISC");
  auto array = ParseNpmPackageJson(
      R"({"name":"b","version":"1.0.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}]})", "p");
  ASSERT_TRUE(array.ok());
  EXPECT_EQ(array->license, "(MIT OR Apache-2.0)");
  EXPECT_EQ(array->purl, "pkg:npm/b@1.0.0");
}

TEST(NpmPackageJsonTest, Errors) {
  auto bad = ParseNpmPackageJson("{\n\"name\": \"a\",\n\"version\": 1.0.0\n}", "x/package.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().message().starts_with("x/package.json:3: parse error"))
      << bad.error().message();
  auto array = ParseNpmPackageJson("[1,2]", "p");
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.error().message(), "p: package.json is not a JSON object");
  auto no_version = ParseNpmPackageJson(R"({"name":"a"})", "p");
  ASSERT_FALSE(no_version.ok());
  EXPECT_EQ(no_version.error().message(), "p: no \"version\"");
  // A megabyte of nesting is refused, not recursed into.
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto nested = ParseNpmPackageJson(deep, "p");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().message().find("nested deeper"), std::string::npos);
}

TEST(OsReleaseTest, Parse) {
  OsRelease os = ParseOsRelease(
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
      "VERSION_ID=\"12\"\n# comment\nID=debian\nHOME_URL='https://www.debian.org/'\n"
      "garbage line\n");
  EXPECT_EQ(os, kDebian);
  OsRelease alpine = ParseOsRelease(
      "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.0\n"
      "PRETTY_NAME=\"Alpine Linux v3.19\"\n");
  EXPECT_EQ(alpine, kAlpine);
  EXPECT_EQ(ParseOsRelease("PRETTY_NAME=\"say \\\"hi\\\"\"").pretty_name, "say \"hi\"");
}

TEST(PackageUrlTest, Encoding) {
  EXPECT_EQ(PackageUrl("deb", "libstdc++6", "12.2.0-14", "amd64", kDebian),
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12");
  EXPECT_EQ(PackageUrl("deb", "a", "1", "", OsRelease{"ubuntu", "22.04", ""}),
            "pkg:deb/ubuntu/a@1?distro=ubuntu-22.04");
  EXPECT_EQ(PackageUrl("npm", "Left Pad", "1 0", "", OsRelease()), "pkg:npm/left%20pad@1%200");
  EXPECT_EQ(PackageUrl("python", "Foo__Bar.baz", "1.0", "", OsRelease()),
            "pkg:pypi/foo-bar-baz@1.0");
}

// A directory tree for ScanRootfs, removed afterwards.
class RootfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sbom_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    root_ = base_ + "/root";
    outside_ = base_ + "/outside";
    fs::create_directories(root_);
    fs::create_directories(outside_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }

  void Write(const std::string& rel, std::string_view content) {
    fs::path path = fs::path(root_) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
  }
  void Symlink(const std::string& target, const std::string& rel) {
    fs::path path = fs::path(root_) / rel;
    fs::create_directories(path.parent_path());
    fs::create_symlink(target, path);
  }

  ScanResult Scan() {
    auto result = ScanRootfs(Context::Background(), root_);
    EXPECT_TRUE(result.ok()) << result.error().ToString();
    return result.ok() ? std::move(result).value() : ScanResult();
  }

  std::string base_, root_, outside_;
};

TEST_F(RootfsTest, FindsEveryKind) {
  Write("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian 12\"\n");
  Symlink("../usr/lib/os-release", "etc/os-release");
  Write("var/lib/dpkg/status", kDpkgStatus);
  Write("var/lib/dpkg/status.d/base-files",
        "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n");
  Write("var/lib/dpkg/status.d/base-files.md5sums", "d41d8cd98f00b204e9800998ecf8427e  etc/x\n");
  Write("usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA",
        "Name: PyYAML\nVersion: 6.0\nLicense: MIT\n");
  Write("usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO",
        "Name: PyJWT\nVersion: 2.6.0\n");
  Write("usr/local/lib/python3.12/site-packages/six-1.16.0.egg-info",
        "Name: six\nVersion: 1.16.0\n");
  Write("usr/local/lib/python3.12/site-packages/broken-1.dist-info/METADATA", "Name: broken\n");
  Write("usr/lib/python2.7/dist-packages/old-1.dist-info/METADATA", "Name: old\nVersion: 1\n");
  Write("usr/local/lib/node_modules/npm/package.json",
        R"({"name":"npm","version":"10.2.4","license":"Artistic-2.0"})");
  Write("usr/local/lib/node_modules/npm/node_modules/abbrev/package.json",
        R"({"name":"abbrev","version":"2.0.0","license":"ISC"})");
  Write("usr/local/lib/node_modules/npm/node_modules/abbrev/lib/package.json",
        R"({"type":"module"})");
  Write("usr/local/lib/node_modules/npm/node_modules/.bin/x", "");
  Write("app/node_modules/@types/node/package.json",
        R"({"name":"@types/node","version":"20.10.0","license":"MIT"})");

  ScanResult scan = Scan();
  EXPECT_EQ(scan.os, (OsRelease{"debian", "12", "Debian 12"}));
  EXPECT_EQ(Names(scan.packages),
            (std::vector<std::string>{
                "deb:base-files@12.4+deb12u5", "deb:bash@5.2.15-2+b2", "deb:libc6@2.36-9+deb12u4",
                "deb:tzdata@2024a-0+deb12u1", "npm:@types/node@20.10.0", "npm:abbrev@2.0.0",
                "npm:npm@10.2.4", "python:PyJWT@2.6.0", "python:PyYAML@6.0", "python:six@1.16.0"}));
  const Package* base_files = Find(scan.packages, "deb", "base-files");
  ASSERT_NE(base_files, nullptr);
  EXPECT_EQ(base_files->source, "/var/lib/dpkg/status.d/base-files");
  EXPECT_EQ(base_files->purl,
            "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12");
  const Package* abbrev = Find(scan.packages, "npm", "abbrev");
  ASSERT_NE(abbrev, nullptr);
  EXPECT_EQ(abbrev->source, "/usr/local/lib/node_modules/npm/node_modules/abbrev/package.json");
  EXPECT_EQ(abbrev->license, "ISC");
  const Package* six = Find(scan.packages, "python", "six");
  ASSERT_NE(six, nullptr);
  EXPECT_EQ(six->source, "/usr/local/lib/python3.12/site-packages/six-1.16.0.egg-info");
  ASSERT_EQ(scan.warnings.size(), 1u);
  EXPECT_EQ(scan.warnings[0],
            "/usr/local/lib/python3.12/site-packages/broken-1.dist-info/METADATA: no Version "
            "field");
}

TEST_F(RootfsTest, ApkImage) {
  Write("etc/os-release", "ID=alpine\nVERSION_ID=3.19.0\n");
  Write("lib/apk/db/installed", kApkInstalled);
  // Merged /usr: apk-tools 3's path names the same file, which is read once.
  fs::create_directories(fs::path(root_) / "usr");
  Symlink("../lib", "usr/lib");
  ScanResult scan = Scan();
  EXPECT_EQ(Names(scan.packages),
            (std::vector<std::string>{"apk:busybox@1.36.1-r15", "apk:musl@1.2.4_git20230717-r4"}));
  EXPECT_EQ(scan.packages[0].source, "/lib/apk/db/installed");
  EXPECT_TRUE(scan.warnings.empty());
}

TEST_F(RootfsTest, SymlinksNeverLeaveTheRoot) {
  // Host files an image might try to reach.
  const std::string secret_status =
      "Package: host-secret\nStatus: install ok installed\nVersion: 6.6.6\n";
  {
    std::ofstream(outside_ + "/status") << secret_status;
    std::ofstream(outside_ + "/installed") << "P:host-secret\nV:6.6.6\n";
    std::ofstream(outside_ + "/os-release") << "ID=hostos\nVERSION_ID=1\n";
    std::ofstream(outside_ + "/METADATA") << "Name: host-secret\nVersion: 6.6.6\n";
    fs::create_directories(outside_ + "/pkg");
    std::ofstream(outside_ + "/pkg/package.json") << R"({"name":"host-secret","version":"6.6.6"})";
    fs::create_directories(outside_ + "/site-packages/host_secret-1.dist-info");
    std::ofstream(outside_ + "/site-packages/host_secret-1.dist-info/METADATA")
        << "Name: host-secret\nVersion: 6.6.6\n";
  }
  // Absolute symlinks to the host path, and relative ones climbing above the root.
  Symlink(outside_ + "/status", "var/lib/dpkg/status");
  Symlink("../../../../../../../../../../" + outside_ + "/installed", "lib/apk/db/installed");
  Symlink(outside_ + "/os-release", "etc/os-release");
  Symlink("../../../../../../../../../" + outside_ + "/os-release", "usr/lib/os-release");
  Symlink(outside_ + "/status", "var/lib/dpkg/status.d/evil");
  Symlink(outside_ + "/pkg", "app/node_modules/evil");
  Symlink(outside_ + "/METADATA", "usr/lib/python3/dist-packages/evil-1.dist-info/METADATA");
  Symlink(outside_ + "/site-packages", "usr/local/lib/python3.11/site-packages");
  Symlink(outside_ + "/site-packages", "usr/local/lib/python3.12");
  Write("usr/local/lib/node_modules/ok/package.json", R"({"name":"ok","version":"1.0.0"})");
  Symlink(outside_ + "/pkg/package.json", "usr/local/lib/node_modules/evil2/package.json");

  ScanResult scan = Scan();
  EXPECT_EQ(scan.os, OsRelease());
  EXPECT_EQ(Names(scan.packages), std::vector<std::string>{"npm:ok@1.0.0"});
  for (const std::string& w : scan.warnings) {
    EXPECT_EQ(w.find("6.6.6"), std::string::npos) << w;
  }
}

TEST_F(RootfsTest, SymlinksInsideTheRootResolveThere) {
  // The same absolute link target that pointed at the host above names the image's own file.
  Write("srv/dpkg-status", "Package: in-image\nStatus: install ok installed\nVersion: 1\n");
  Symlink("/srv/dpkg-status", "var/lib/dpkg/status");
  ScanResult scan = Scan();
  EXPECT_EQ(Names(scan.packages), std::vector<std::string>{"deb:in-image@1"});
}

TEST_F(RootfsTest, FifoAndHugeDatabaseAreRefusedNotRead) {
  fs::create_directories(fs::path(root_) / "var/lib/dpkg");
  ASSERT_EQ(::mkfifo((root_ + "/var/lib/dpkg/status").c_str(), 0644), 0);
  auto fifo = ScanRootfs(Context::Background(), root_);
  ASSERT_FALSE(fifo.ok());
  EXPECT_EQ(fifo.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(fifo.error().ToString().find("/var/lib/dpkg/status: not a regular file"),
            std::string::npos)
      << fifo.error().ToString();

  fs::remove(fs::path(root_) / "var/lib/dpkg/status");
  { std::ofstream(root_ + "/var/lib/dpkg/status") << "Package: a\nVersion: 1\n"; }
  fs::resize_file(fs::path(root_) / "var/lib/dpkg/status", (size_t{64} << 20) + 1);  // sparse
  auto huge = ScanRootfs(Context::Background(), root_);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code(), ErrorCode::kResourceExhausted);
}

TEST_F(RootfsTest, DeepNodeModulesAreBounded) {
  std::string path = "app/node_modules";
  for (int i = 0; i < 40; ++i) {
    path += "/p" + std::to_string(i);
    Write(path + "/package.json", R"({"name":"p)" + std::to_string(i) + R"(","version":"1.0.0"})");
    path += "/node_modules";
  }
  ScanResult scan = Scan();
  EXPECT_EQ(scan.packages.size(), 17u);  // depths 0 to 16
  ASSERT_EQ(scan.warnings.size(), 1u);
  EXPECT_NE(scan.warnings[0].find("nested more than 16 deep"), std::string::npos);
}

TEST_F(RootfsTest, ErrorsAndCancellation) {
  auto missing = ScanRootfs(Context::Background(), base_ + "/does-not-exist");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  Write("app/node_modules/a/package.json", R"({"name":"a","version":"1.0.0"})");
  Context ctx = Context::Background().WithCancel();
  ctx.Cancel();
  auto cancelled = ScanRootfs(ctx, root_);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code(), ErrorCode::kCancelled);

  EXPECT_TRUE(ScanRootfs(Context::Background(), root_).ok());  // an otherwise empty image
}

TEST_F(RootfsTest, ThisMachinesDpkgStatus) {
  std::error_code ec;
  if (!fs::is_regular_file("/var/lib/dpkg/status", ec)) {
    GTEST_SKIP() << "no /var/lib/dpkg/status on this machine";
  }
  fs::create_directories(fs::path(root_) / "var/lib/dpkg");
  fs::copy_file("/var/lib/dpkg/status", fs::path(root_) / "var/lib/dpkg/status");
  ScanResult scan = Scan();
  const Package* dpkg = Find(scan.packages, "deb", "dpkg");
  ASSERT_NE(dpkg, nullptr);
  EXPECT_FALSE(dpkg->version.empty());
  EXPECT_TRUE(dpkg->purl.starts_with("pkg:deb/debian/dpkg@")) << dpkg->purl;
  EXPECT_TRUE(scan.warnings.empty()) << scan.warnings[0];
}

ScanResult SampleScan() {
  ScanResult scan;
  scan.os = kDebian;
  auto deb = ParseDpkgStatus(kDpkgStatus, kDebian, "/var/lib/dpkg/status");
  scan.packages = deb.value();
  Package npm = ParseNpmPackageJson(R"({"name":"left-pad","version":"1.3.0","license":"WTFPL"})",
                                    "/app/node_modules/left-pad/package.json")
                    .value();
  scan.packages.push_back(npm);
  scan.packages.push_back(ParsePythonMetadata("Name: requests\nVersion: 2.31.0\n"
                                              "License: Apache 2.0\n",
                                              "/usr/lib/python3/dist-packages/r/METADATA")
                              .value());
  scan.packages.push_back(
      ParseNpmPackageJson(R"j({"name":"dual","version":"1.0.0","license":"(MIT OR GPL-2.0+)"})j",
                          "/app/node_modules/dual/package.json")
          .value());
  return scan;
}

TEST(SpdxJsonTest, Document) {
  ScanResult scan = SampleScan();
  std::string text = SpdxJson(scan, "docker.io/library/app:latest", 1704164645, "0.3.0");
  nlohmann::json doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["spdxVersion"], "SPDX-2.3");
  EXPECT_EQ(doc["dataLicense"], "CC0-1.0");
  EXPECT_EQ(doc["SPDXID"], "SPDXRef-DOCUMENT");
  EXPECT_EQ(doc["name"], "docker.io/library/app:latest");
  std::string ns = doc["documentNamespace"];
  EXPECT_TRUE(ns.starts_with("https://berth.invalid/spdx/docker.io%2Flibrary%2Fapp%3Alatest-"))
      << ns;
  EXPECT_EQ(doc["creationInfo"]["created"], "2024-01-02T03:04:05Z");
  EXPECT_EQ(doc["creationInfo"]["creators"], nlohmann::json::array({"Tool: berth-0.3.0"}));

  // The operating system and the six packages, each described by the document.
  const nlohmann::json& packages = doc["packages"];
  ASSERT_EQ(packages.size(), 7u);
  EXPECT_EQ(packages[0]["primaryPackagePurpose"], "OPERATING-SYSTEM");
  EXPECT_EQ(packages[0]["name"], "debian");
  EXPECT_EQ(packages[0]["versionInfo"], "12");
  std::set<std::string> ids;
  for (const nlohmann::json& p : packages) {
    std::string id = p["SPDXID"];
    EXPECT_TRUE(id.starts_with("SPDXRef-")) << id;
    EXPECT_EQ(id.find_first_not_of(
                  "SPDXRef-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"),
              std::string::npos)
        << id;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    EXPECT_EQ(p["downloadLocation"], "NOASSERTION");
    EXPECT_EQ(p["licenseConcluded"], "NOASSERTION");
  }
  std::map<std::string, nlohmann::json> by_name;
  for (const nlohmann::json& p : packages) {
    by_name[p["name"]] = p;
  }
  const nlohmann::json& bash = by_name["bash"];
  EXPECT_EQ(bash["versionInfo"], "5.2.15-2+b2");
  EXPECT_EQ(bash["licenseDeclared"], "NOASSERTION");
  ASSERT_EQ(bash["externalRefs"].size(), 1u);
  EXPECT_EQ(bash["externalRefs"][0]["referenceCategory"], "PACKAGE-MANAGER");
  EXPECT_EQ(bash["externalRefs"][0]["referenceType"], "purl");
  EXPECT_EQ(bash["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12");
  EXPECT_EQ(by_name["left-pad"]["licenseDeclared"], "WTFPL");
  EXPECT_EQ(by_name["dual"]["licenseDeclared"], "(MIT OR GPL-2.0+)");
  // Free text is not an SPDX expression: a LicenseRef with the text kept.
  EXPECT_EQ(by_name["requests"]["licenseDeclared"], "LicenseRef-Apache-2.0");
  ASSERT_EQ(doc["hasExtractedLicensingInfos"].size(), 1u);
  EXPECT_EQ(doc["hasExtractedLicensingInfos"][0]["licenseId"], "LicenseRef-Apache-2.0");
  EXPECT_EQ(doc["hasExtractedLicensingInfos"][0]["extractedText"], "Apache 2.0");

  const nlohmann::json& relationships = doc["relationships"];
  ASSERT_EQ(relationships.size(), packages.size());
  std::set<std::string> described;
  for (const nlohmann::json& r : relationships) {
    EXPECT_EQ(r["spdxElementId"], "SPDXRef-DOCUMENT");
    EXPECT_EQ(r["relationshipType"], "DESCRIBES");
    described.insert(r["relatedSpdxElement"].get<std::string>());
  }
  EXPECT_EQ(described, ids);
}

TEST(SpdxJsonTest, DeterministicAndContentAddressed) {
  ScanResult scan = SampleScan();
  std::string first = SpdxJson(scan, "img", 1700000000, "1");
  ScanResult shuffled = scan;
  std::mt19937 rng(42);
  std::shuffle(shuffled.packages.begin(), shuffled.packages.end(), rng);
  shuffled.packages.push_back(shuffled.packages[0]);  // a duplicate is one package
  EXPECT_EQ(SpdxJson(shuffled, "img", 1700000000, "1"), first);

  ScanResult other = scan;
  other.packages.pop_back();
  auto ns = [](const std::string& text) {
    return nlohmann::json::parse(text)["documentNamespace"].get<std::string>();
  };
  EXPECT_NE(ns(SpdxJson(other, "img", 1700000000, "1")), ns(first));
  EXPECT_NE(ns(SpdxJson(scan, "img", 1700000001, "1")), ns(first));
}

TEST(SpdxJsonTest, EmptyScanAndHostileStrings) {
  std::string empty = SpdxJson(ScanResult(), "scratch", 0, "dev");
  nlohmann::json doc = nlohmann::json::parse(empty);
  EXPECT_TRUE(doc["packages"].empty());
  EXPECT_TRUE(doc["relationships"].empty());
  EXPECT_EQ(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");

  ScanResult scan;
  Package p{.name = std::string("bad\xff\x00name", 9),
            .version = "1\"}",
            .type = "npm",
            .license = "MIT WITH Nonsense-exception",
            .source = "/x",
            .purl = "pkg:npm/x@1"};
  scan.packages.push_back(p);
  nlohmann::json hostile = nlohmann::json::parse(SpdxJson(scan, "n", 0, "dev"));
  EXPECT_EQ(hostile["packages"][0]["versionInfo"], "1\"}");
  std::string license = hostile["packages"][0]["licenseDeclared"];
  EXPECT_TRUE(license.starts_with("LicenseRef-")) << license;
}

}  // namespace
}  // namespace berth::sbom
