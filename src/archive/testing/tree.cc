#include "archive/testing/tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/strings.h"
#include "digest/digest.h"

namespace berth::archive::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "archive test helper: %s: %s\n", what.c_str(), std::strerror(errno));
  std::abort();
}

struct Node {
  std::string path;  // relative
  struct stat st;
};

void Collect(const std::string& root, const std::string& rel, std::vector<Node>& out) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    Die("opendir " + dir);
  }
  std::vector<std::string> names;
  while (struct dirent* ent = readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
    std::string n = ent->d_name;
    if (n != "." && n != "..") {
      names.push_back(n);
    }
  }
  closedir(d);
  for (const std::string& n : names) {
    Node node;
    node.path = rel.empty() ? n : rel + "/" + n;
    if (lstat((root + "/" + node.path).c_str(), &node.st) != 0) {
      Die("lstat " + node.path);
    }
    out.push_back(node);
    if (S_ISDIR(node.st.st_mode)) {
      Collect(root, node.path, out);
    }
  }
}

std::string Xattrs(const std::string& path) {
  ssize_t n = llistxattr(path.c_str(), nullptr, 0);
  if (n <= 0) {
    return "";
  }
  std::string names(static_cast<size_t>(n), '\0');
  n = llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) {
    Die("llistxattr " + path);
  }
  names.resize(static_cast<size_t>(n));
  std::vector<std::string> parts;
  for (size_t pos = 0; pos < names.size();) {
    std::string key(names.c_str() + pos);
    pos += key.size() + 1;
    if (key.rfind("trusted.overlay.", 0) == 0) {
      continue;
    }
    ssize_t vn = lgetxattr(path.c_str(), key.c_str(), nullptr, 0);
    std::string value(static_cast<size_t>(std::max<ssize_t>(vn, 0)), '\0');
    if (vn > 0) {
      vn = lgetxattr(path.c_str(), key.c_str(), value.data(), value.size());
      value.resize(static_cast<size_t>(std::max<ssize_t>(vn, 0)));
    }
    parts.push_back(key + "=" + QuoteString(value));
  }
  std::sort(parts.begin(), parts.end());
  return parts.empty() ? "" : " xattrs{" + StrJoin(parts, ",") + "}";
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/berth-archive-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    Die("mkdtemp " + tmpl);
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::operator/(std::string_view rel) const {
  return path_ + "/" + std::string(rel);
}

std::string DescribeTree(const std::string& root, const DescribeOptions& options) {
  std::vector<Node> nodes;
  Collect(root, "", nodes);
  std::sort(nodes.begin(), nodes.end(),
            [](const Node& a, const Node& b) { return a.path < b.path; });
  std::map<std::pair<dev_t, ino_t>, std::string> first;
  std::ostringstream out;
  for (const Node& n : nodes) {
    const struct stat& st = n.st;
    std::string full = root + "/" + n.path;
    char type = '?';
    switch (st.st_mode & S_IFMT) {
      case S_IFDIR:
        type = 'd';
        break;
      case S_IFREG:
        type = 'f';
        break;
      case S_IFLNK:
        type = 'l';
        break;
      case S_IFCHR:
        type = 'c';
        break;
      case S_IFBLK:
        type = 'b';
        break;
      case S_IFIFO:
        type = 'p';
        break;
      case S_IFSOCK:
        type = 's';
        break;
      default:
        break;
    }
    char mode[16];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    out << n.path << ' ' << type;
    if (type != 'l') {
      out << ' ' << mode;
    }
    if (options.owners) {
      out << ' ' << st.st_uid << ':' << st.st_gid;
    }
    if (options.mtimes && type != 'l') {
      out << " t=" << st.st_mtim.tv_sec;
    }
    if (type == 'f') {
      out << " size=" << st.st_size << ' '
          << digest::FromBytes(ReadFileOrEmpty(full)).hex().substr(0, 16);
    } else if (type == 'l') {
      char buf[4096];
      ssize_t len = readlink(full.c_str(), buf, sizeof(buf));
      if (len < 0) {
        Die("readlink " + full);
      }
      out << " -> " << QuoteString(std::string_view(buf, static_cast<size_t>(len)));
    } else if (type == 'c' || type == 'b') {
      out << ' ' << major(st.st_rdev) << ',' << minor(st.st_rdev);
    }
    if (options.xattrs) {
      out << Xattrs(full);
    }
    if (type != 'd' && st.st_nlink > 1) {
      auto [it, inserted] = first.try_emplace({st.st_dev, st.st_ino}, n.path);
      if (!inserted) {
        out << " hardlink=" << it->second;
      }
    }
    out << '\n';
  }
  return out.str();
}

void WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    Die("create " + path);
  }
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      Die("write " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  close(fd);
  if (chmod(path.c_str(), mode) != 0) {
    Die("chmod " + path);
  }
}

void MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) != 0 || chmod(path.c_str(), mode) != 0) {
    Die("mkdir " + path);
  }
}

void Symlink(const std::string& target, const std::string& path) {
  if (symlink(target.c_str(), path.c_str()) != 0) {
    Die("symlink " + path);
  }
}

void Hardlink(const std::string& existing, const std::string& path) {
  if (link(existing.c_str(), path.c_str()) != 0) {
    Die("link " + path);
  }
}

void SetXattr(const std::string& path, const std::string& key, std::string_view value) {
  if (lsetxattr(path.c_str(), key.c_str(), value.data(), value.size(), 0) != 0) {
    Die("setxattr " + key + " " + path);
  }
}

void SetMtime(const std::string& path, int64_t seconds) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = seconds;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  if (utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    Die("utimensat " + path);
  }
}

int Shell(const std::string& command) {
  int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe, cert-env33-c)
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct TarBuilder::Impl {
  struct archive* a = nullptr;
  struct archive_entry* e = nullptr;
  std::string out;

  static la_ssize_t Write(struct archive*, void* client, const void* buf, size_t size) {
    static_cast<Impl*>(client)->out.append(static_cast<const char*>(buf), size);
    return static_cast<la_ssize_t>(size);
  }

  void Add(const std::string& name, mode_t type, const Meta& meta, std::string_view data,
           const char* symlink, const char* hardlink, dev_t rdev = 0) {
    archive_entry_clear(e);
    archive_entry_copy_pathname(e, name.c_str());
    archive_entry_set_mode(e, type | meta.perm);
    archive_entry_set_uid(e, meta.uid);
    archive_entry_set_gid(e, meta.gid);
    archive_entry_set_mtime(e, meta.mtime, 0);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    if (symlink != nullptr) {
      archive_entry_copy_symlink(e, symlink);
    }
    if (hardlink != nullptr) {
      archive_entry_copy_hardlink(e, hardlink);
    }
    if (rdev != 0) {
      archive_entry_set_rdevmajor(e, major(rdev));
      archive_entry_set_rdevminor(e, minor(rdev));
    }
    for (const auto& [k, v] : meta.xattrs) {
      archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    }
    if (archive_write_header(a, e) < ARCHIVE_WARN) {
      Die(std::string("archive_write_header: ") + archive_error_string(a));
    }
    if (!data.empty() &&
        archive_write_data(a, data.data(), data.size()) != static_cast<la_ssize_t>(data.size())) {
      Die("archive_write_data");
    }
  }
};

TarBuilder::TarBuilder() : impl_(std::make_unique<Impl>()) {
  impl_->a = archive_write_new();
  impl_->e = archive_entry_new();
  archive_write_set_format_pax_restricted(impl_->a);
  archive_write_set_bytes_per_block(impl_->a, 0);
  if (archive_write_open2(impl_->a, impl_.get(), nullptr, &Impl::Write, nullptr, nullptr) !=
      ARCHIVE_OK) {
    Die("archive_write_open2");
  }
}

TarBuilder::~TarBuilder() {
  archive_entry_free(impl_->e);
  archive_write_free(impl_->a);
}

TarBuilder& TarBuilder::File(const std::string& name, std::string_view data, Meta meta) {
  impl_->Add(name, AE_IFREG, meta, data, nullptr, nullptr);
  return *this;
}

TarBuilder& TarBuilder::Dir(const std::string& name, Meta meta) {
  impl_->Add(name, AE_IFDIR, meta, "", nullptr, nullptr);
  return *this;
}

TarBuilder& TarBuilder::Symlink(const std::string& name, const std::string& target) {
  Meta meta;
  meta.perm = 0777;
  impl_->Add(name, AE_IFLNK, meta, "", target.c_str(), nullptr);
  return *this;
}

TarBuilder& TarBuilder::Hardlink(const std::string& name, const std::string& target) {
  impl_->Add(name, AE_IFREG, Meta{}, "", nullptr, target.c_str());
  return *this;
}

TarBuilder& TarBuilder::Fifo(const std::string& name) {
  impl_->Add(name, AE_IFIFO, Meta{}, "", nullptr, nullptr);
  return *this;
}

TarBuilder& TarBuilder::CharDevice(const std::string& name, unsigned maj, unsigned min) {
  impl_->Add(name, AE_IFCHR, Meta{}, "", nullptr, nullptr, makedev(maj, min));
  return *this;
}

TarBuilder& TarBuilder::Whiteout(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos
                         ? ".wh." + path
                         : path.substr(0, slash + 1) + ".wh." + path.substr(slash + 1);
  Meta meta;
  meta.perm = 0;
  meta.mtime = 0;
  impl_->Add(name, AE_IFREG, meta, "", nullptr, nullptr);
  return *this;
}

TarBuilder& TarBuilder::Opaque(const std::string& dir) {
  Meta meta;
  meta.perm = 0;
  meta.mtime = 0;
  impl_->Add(dir.empty() ? ".wh..wh..opq" : dir + "/.wh..wh..opq", AE_IFREG, meta, "", nullptr,
             nullptr);
  return *this;
}

std::string TarBuilder::Finish() {
  if (archive_write_close(impl_->a) != ARCHIVE_OK) {
    Die("archive_write_close");
  }
  return std::move(impl_->out);
}

}  // namespace berth::archive::testing
