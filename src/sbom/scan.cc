// ScanRootfs: finds the package databases of an image's root file system and feeds them to the
// parsers.
//
// Every path of the image is opened below one O_PATH descriptor of the root: named paths
// ("/var/lib/dpkg/status") with openat2(RESOLVE_IN_ROOT), so a symlink in the image resolves as
// it would inside a container, never to a host file; entries met while walking a directory with
// openat(O_NOFOLLOW) relative to that directory, so a walk never follows a symlink at all. A
// file is first opened O_PATH and read only when fstat says it is a regular file (a FIFO would
// block, a device could do anything on open), through /proc/self/fd, which names exactly the
// inode just checked.
//
// The helpers here duplicate a few of fileop's and archive's private ones (fileop/fs.h), which
// those components do not export and which sit above sbom in the dependency order.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <tuple>
#include <utility>

#include "base/unique_fd.h"
#include "sbom/sbom.h"

namespace berth::sbom {
namespace {

constexpr size_t kMaxDatabaseBytes = size_t{64} << 20;  // dpkg status, apk installed
constexpr size_t kMaxMetadataBytes = size_t{1} << 20;   // one package's metadata file
constexpr size_t kMaxOsReleaseBytes = size_t{64} << 10;
constexpr size_t kMaxEntries = 500'000;   // directory entries visited in the whole scan
constexpr int kMaxNodeModulesDepth = 16;  // node_modules nested in node_modules
constexpr size_t kMaxWarnings = 200;

bool IsAbsent(int err) {
  return err == ENOENT || err == ENOTDIR;
}

Result<UniqueFd> OpenInRoot(int root, std::string_view path, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel(path);
  while (!rel.empty() && rel.front() == '/') {
    rel.erase(0, 1);
  }
  if (rel.empty()) {
    rel = ".";
  }
  long fd = -1;
  // EAGAIN: a rename raced the lookup (RESOLVE_IN_ROOT is strict about that); a few retries.
  for (int attempt = 0; attempt < 16; ++attempt) {
    fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof(how));
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR)) {
      break;
    }
  }
  if (fd < 0) {
    if (errno == ENOSYS) {
      return Error::Unimplemented("scanning an image needs openat2(2) (Linux 5.6)");
    }
    return Error::FromErrno("open " + std::string(path), errno);
  }
  return UniqueFd(static_cast<int>(fd));
}

struct FileId {
  dev_t dev;
  ino_t ino;
  friend bool operator<(const FileId& a, const FileId& b) {
    return std::tie(a.dev, a.ino) < std::tie(b.dev, b.ino);
  }
};

struct Entry {
  std::string name;
  bool dir = false;
  bool regular = false;
};

class Scanner {
 public:
  Scanner(Context ctx, UniqueFd root) : ctx_(std::move(ctx)), root_(std::move(root)) {}

  Result<ScanResult> Run() {
    ReadOsRelease();
    BERTH_TRY(ScanDpkg());
    BERTH_TRY(ScanApk());
    BERTH_TRY(ScanPython());
    BERTH_TRY(ScanNpm());
    std::sort(result_.packages.begin(), result_.packages.end(),
              [](const Package& a, const Package& b) {
                return std::tie(a.type, a.name, a.version, a.arch, a.source, a.purl, a.license) <
                       std::tie(b.type, b.name, b.version, b.arch, b.source, b.purl, b.license);
              });
    result_.packages.erase(std::unique(result_.packages.begin(), result_.packages.end()),
                           result_.packages.end());
    if (dropped_warnings_ > 0) {
      result_.warnings.push_back(std::to_string(dropped_warnings_) + " more warnings not shown");
    }
    return std::move(result_);
  }

 private:
  void Warn(std::string line) {
    if (result_.warnings.size() < kMaxWarnings) {
      result_.warnings.push_back(std::move(line));
    } else {
      ++dropped_warnings_;
    }
  }

  // Reads the regular file open as the O_PATH descriptor `fd`, at most `cap` bytes. `path` names
  // it in errors. FailedPrecondition when it is not a regular file; ResourceExhausted when larger
  // than `cap`.
  Result<std::string> ReadRegular(int fd, size_t cap, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return Error::FromErrno("stat " + path, errno);
    }
    if (!S_ISREG(st.st_mode)) {
      return Error::FailedPrecondition(path + ": not a regular file");
    }
    if (static_cast<uint64_t>(st.st_size) > cap) {
      return Error::ResourceExhausted(path + ": larger than " + std::to_string(cap >> 10) +
                                      " KiB, not read");
    }
    std::string proc = "/proc/self/fd/" + std::to_string(fd);
    UniqueFd file(::open(proc.c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC));
    if (!file) {
      return Error::FromErrno("open " + path, errno);
    }
    std::string data;
    data.resize(std::min<size_t>(static_cast<size_t>(st.st_size), cap) + 1);
    size_t used = 0;
    for (;;) {
      if (used == data.size()) {
        if (data.size() > cap) {
          return Error::ResourceExhausted(path + ": larger than " + std::to_string(cap >> 10) +
                                          " KiB, not read");
        }
        data.resize(std::min(cap + 1, data.size() * 2));
      }
      ssize_t n = ::read(file.get(), data.data() + used, data.size() - used);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return Error::FromErrno("read " + path, errno);
      }
      if (n == 0) {
        break;
      }
      used += static_cast<size_t>(n);
    }
    data.resize(used);
    return data;
  }

  // A named file of the image, symlinks resolved inside the root. nullopt when it does not exist.
  Result<std::optional<std::string>> ReadNamed(std::string_view path, size_t cap) {
    auto fd = OpenInRoot(root_.get(), path, O_PATH);
    if (!fd.ok()) {
      if (IsAbsent(fd.error().sys_errno())) {
        return std::optional<std::string>();
      }
      return std::move(fd).error();
    }
    if (!FirstVisit(fd->get())) {
      return std::optional<std::string>();  // the same file under another name, read already
    }
    return std::optional<std::string>(BERTH_TRY(ReadRegular(fd->get(), cap, std::string(path))));
  }

  // `name` in the directory `dirfd`, not following a symlink. nullopt when it does not exist.
  Result<std::optional<std::string>> ReadChild(int dirfd, const std::string& name, size_t cap,
                                               const std::string& path) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (IsAbsent(errno)) {
        return std::optional<std::string>();
      }
      return Error::FromErrno("open " + path, errno);
    }
    return std::optional<std::string>(BERTH_TRY(ReadRegular(fd.get(), cap, path)));
  }

  // A named directory of the image (symlinks resolved inside the root), open for listing.
  // Invalid when it does not exist, is not a directory, or was visited under another name.
  UniqueFd OpenNamedDir(std::string_view path) {
    auto fd = OpenInRoot(root_.get(), path, O_RDONLY | O_DIRECTORY);
    if (!fd.ok()) {
      if (!IsAbsent(fd.error().sys_errno())) {
        Warn(fd.error().ToString());
      }
      return {};
    }
    if (!FirstVisit(fd->get())) {
      return {};
    }
    return std::move(fd).value();
  }

  // The directory `name` in `dirfd`, never through a symlink; invalid when it is not one.
  UniqueFd OpenChildDir(int dirfd, const std::string& name, const std::string& path) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd && !IsAbsent(errno) && errno != ELOOP) {
      Warn(Error::FromErrno("open " + path, errno).ToString());
    }
    return fd;
  }

  bool FirstVisit(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return true;
    }
    return visited_.insert(FileId{st.st_dev, st.st_ino}).second;
  }

  // The entries of the directory open as `dirfd`, sorted by name, each costing one unit of the
  // scan's entry budget. Symlinks are neither directories nor regular files here.
  Result<std::vector<Entry>> List(int dirfd, const std::string& path) {
    BERTH_TRY(ctx_.Check());
    std::vector<Entry> entries;
    if (budget_ == 0) {
      return entries;
    }
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      return Error::FromErrno("open " + path, errno);
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      int err = errno;
      (void)::close(fd);
      return Error::FromErrno("list " + path, err);
    }
    int err = 0;
    for (;;) {
      errno = 0;
      struct dirent* ent = ::readdir(dir);  // NOLINT(concurrency-mt-unsafe): the DIR is ours
      if (ent == nullptr) {
        err = errno;
        break;
      }
      std::string_view name(ent->d_name);
      if (name == "." || name == "..") {
        continue;
      }
      if (budget_ == 0) {
        Warn(path + ": stopped after visiting " + std::to_string(kMaxEntries) +
             " directory entries; the scan is incomplete");
        break;
      }
      --budget_;
      Entry e{std::string(name)};
      unsigned char type = ent->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(::dirfd(dir), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
          type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
      }
      e.dir = type == DT_DIR;
      e.regular = type == DT_REG;
      entries.push_back(std::move(e));
    }
    ::closedir(dir);
    if (err != 0) {
      return Error::FromErrno("list " + path, err);
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return entries;
  }

  void ReadOsRelease() {
    for (std::string_view path : {"/etc/os-release", "/usr/lib/os-release"}) {
      auto text = ReadNamed(path, kMaxOsReleaseBytes);
      if (!text.ok()) {
        Warn(text.error().ToString());
        continue;
      }
      if (text->has_value()) {
        result_.os = ParseOsRelease(**text);
        return;
      }
    }
  }

  // The dpkg status file and the apk database are the whole story of an image's system
  // packages: failing to read one fails the scan rather than producing an SBOM without them.
  Result<> ReadDatabase(std::string_view path,
                        Result<std::vector<Package>> (*parse)(std::string_view, const OsRelease&,
                                                              std::string_view,
                                                              std::vector<std::string>*)) {
    std::optional<std::string> text =
        BERTH_TRY_CONTEXT(ReadNamed(path, kMaxDatabaseBytes), "scanning the image's packages");
    if (!text) {
      return {};
    }
    std::vector<std::string> warnings;
    std::vector<Package> packages = BERTH_TRY_CONTEXT(parse(*text, result_.os, path, &warnings),
                                                      "scanning the image's packages");
    for (std::string& w : warnings) {
      Warn(std::move(w));
    }
    Add(std::move(packages));
    return {};
  }

  void Add(std::vector<Package> packages) {
    for (Package& p : packages) {
      result_.packages.push_back(std::move(p));
    }
  }

  Result<> ScanDpkg() {
    BERTH_TRY(ReadDatabase("/var/lib/dpkg/status", &ParseDpkgStatus));
    // Distroless images have no status file but one file per package in status.d/ (beside
    // <package>.md5sums lists of files).
    const std::string dir_path = "/var/lib/dpkg/status.d";
    UniqueFd dir = OpenNamedDir(dir_path);
    if (!dir) {
      return {};
    }
    for (const Entry& e : BERTH_TRY(List(dir.get(), dir_path))) {
      if (!e.regular || e.name.starts_with(".") || e.name.ends_with(".md5sums")) {
        continue;
      }
      std::string path = dir_path + "/" + e.name;
      auto text = ReadChild(dir.get(), e.name, kMaxMetadataBytes, path);
      if (!text.ok() || !text->has_value()) {
        if (!text.ok()) {
          Warn(text.error().ToString());
        }
        continue;
      }
      std::vector<std::string> warnings;
      auto packages = ParseDpkgStatus(**text, result_.os, path, &warnings);
      for (std::string& w : warnings) {
        Warn(std::move(w));
      }
      if (!packages.ok()) {
        Warn(packages.error().ToString());
        continue;
      }
      Add(std::move(packages).value());
    }
    return {};
  }

  Result<> ScanApk() {
    // apk-tools 2 keeps its database in /lib/apk/db; apk-tools 3 in /usr/lib/apk/db. On a
    // merged-/usr system both names are one file, read once.
    BERTH_TRY(ReadDatabase("/lib/apk/db/installed", &ParseApkInstalled));
    BERTH_TRY(ReadDatabase("/usr/lib/apk/db/installed", &ParseApkInstalled));
    return {};
  }

  // One package's metadata file: a failure is a warning, not the scan's.
  void ReadMetadata(int dirfd, const std::string& name, const std::string& path,
                    Result<Package> (*parse)(std::string_view, std::string_view)) {
    auto text = ReadChild(dirfd, name, kMaxMetadataBytes, path);
    if (!text.ok()) {
      Warn(text.error().ToString());
      return;
    }
    if (!text->has_value()) {
      return;
    }
    auto package = parse(**text, path);
    if (!package.ok()) {
      Warn(package.error().ToString());
      return;
    }
    result_.packages.push_back(std::move(package).value());
  }

  Result<> ScanPython() {
    for (std::string base : {"/usr/lib", "/usr/local/lib"}) {
      UniqueFd lib = OpenNamedDir(base);
      if (!lib) {
        continue;
      }
      for (const Entry& py : BERTH_TRY(List(lib.get(), base))) {
        if (!py.dir || !py.name.starts_with("python3")) {
          continue;
        }
        std::string py_path = base + "/" + py.name;
        UniqueFd py_dir = OpenChildDir(lib.get(), py.name, py_path);
        if (!py_dir) {
          continue;
        }
        for (std::string packages_dir : {"site-packages", "dist-packages"}) {
          std::string dir_path = py_path;
          dir_path += "/" + packages_dir;
          UniqueFd dir = OpenChildDir(py_dir.get(), packages_dir, dir_path);
          if (!dir) {
            continue;
          }
          BERTH_TRY(ScanSitePackages(dir.get(), dir_path));
        }
      }
    }
    return {};
  }

  Result<> ScanSitePackages(int dirfd, const std::string& path) {
    for (const Entry& e : BERTH_TRY(List(dirfd, path))) {
      std::string entry_path = path + "/" + e.name;
      if (e.dir && e.name.ends_with(".dist-info")) {
        UniqueFd info = OpenChildDir(dirfd, e.name, entry_path);
        if (info) {
          ReadMetadata(info.get(), "METADATA", entry_path + "/METADATA", &ParsePythonMetadata);
        }
      } else if (e.dir && e.name.ends_with(".egg-info")) {
        UniqueFd info = OpenChildDir(dirfd, e.name, entry_path);
        if (info) {
          ReadMetadata(info.get(), "PKG-INFO", entry_path + "/PKG-INFO", &ParsePythonMetadata);
        }
      } else if (e.regular && e.name.ends_with(".egg-info")) {
        // distutils wrote the PKG-INFO itself as <name>.egg-info.
        ReadMetadata(dirfd, e.name, entry_path, &ParsePythonMetadata);
      }
    }
    return {};
  }

  Result<> ScanNpm() {
    for (std::string path : {"/usr/lib/node_modules", "/usr/local/lib/node_modules",
                             "/app/node_modules", "/usr/src/app/node_modules"}) {
      UniqueFd dir = OpenNamedDir(path);
      if (dir) {
        BERTH_TRY(WalkNodeModules(dir.get(), path, 0));
      }
    }
    return {};
  }

  // node_modules/<name>/ and node_modules/@scope/<name>/, each with its package.json and
  // perhaps its own node_modules/. Hidden entries (.bin, .package-lock.json, pnpm's .pnpm
  // store) and symlinks (npm link, pnpm's layout) are not followed.
  Result<> WalkNodeModules(int dirfd, const std::string& path, int depth) {
    if (depth > kMaxNodeModulesDepth) {
      Warn(path + ": node_modules nested more than " + std::to_string(kMaxNodeModulesDepth) +
           " deep, not scanned");
      return {};
    }
    for (const Entry& e : BERTH_TRY(List(dirfd, path))) {
      if (!e.dir || e.name.starts_with(".")) {
        continue;
      }
      std::string entry_path = path + "/" + e.name;
      if (e.name.starts_with("@")) {
        UniqueFd scope = OpenChildDir(dirfd, e.name, entry_path);
        if (!scope) {
          continue;
        }
        for (const Entry& s : BERTH_TRY(List(scope.get(), entry_path))) {
          if (s.dir && !s.name.starts_with(".")) {
            BERTH_TRY(VisitNpmPackage(scope.get(), s.name, entry_path + "/" + s.name, depth));
          }
        }
      } else {
        BERTH_TRY(VisitNpmPackage(dirfd, e.name, entry_path, depth));
      }
    }
    return {};
  }

  Result<> VisitNpmPackage(int parentfd, const std::string& name, const std::string& path,
                           int depth) {
    UniqueFd dir = OpenChildDir(parentfd, name, path);
    if (!dir) {
      return {};
    }
    ReadMetadata(dir.get(), "package.json", path + "/package.json", &ParseNpmPackageJson);
    UniqueFd nested = OpenChildDir(dir.get(), "node_modules", path + "/node_modules");
    if (nested) {
      BERTH_TRY(WalkNodeModules(nested.get(), path + "/node_modules", depth + 1));
    }
    return {};
  }

  Context ctx_;
  UniqueFd root_;
  ScanResult result_;
  std::set<FileId> visited_;
  size_t budget_ = kMaxEntries;
  size_t dropped_warnings_ = 0;
};

}  // namespace

Result<ScanResult> ScanRootfs(const Context& ctx, const std::string& root) {
  UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return Error::FromErrno("open image root " + root, errno);
  }
  Scanner scanner(ctx, std::move(fd));
  return BERTH_TRY_CONTEXT(scanner.Run(), "scanning " + root + " for an SBOM");
}

}  // namespace berth::sbom
