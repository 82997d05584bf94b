#include "os/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

namespace berth::os {

Result<UniqueFd> Open(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) {
    return Error::FromErrno("open " + path, errno);
  }
  return UniqueFd(fd);
}

Result<std::string> ReadAll(int fd) {
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::FromErrno("read", errno);
    }
    if (n == 0) {
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd = BERTH_TRY(Open(path, O_RDONLY));
  return BERTH_TRY_CONTEXT(ReadAll(fd.get()), "reading " + path);
}

Result<> WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::FromErrno("write", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<> WriteFileAtomic(const std::string& path, std::string_view data, int mode) {
  std::random_device rd;
  std::string tmp = path + ".tmp-" + std::to_string(rd());
  {
    UniqueFd fd = BERTH_TRY(Open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode));
    Result<> written = WriteAll(fd.get(), data);
    if (written.ok() && ::fsync(fd.get()) != 0) {
      written = Error::FromErrno("fsync " + tmp, errno);
    }
    if (written.ok()) {
      written = fd.Close();
    }
    if (!written.ok()) {
      ::unlink(tmp.c_str());
      return std::move(written).error();
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::FromErrno("rename " + tmp + " to " + path, err);
  }
  return {};
}

Result<> MakeDirs(const std::string& path, int mode) {
  if (path.empty()) {
    return {};
  }
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) {
      continue;
    }
    if (::mkdir(partial.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      return Error::FromErrno("mkdir " + partial, errno);
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error::InvalidArgument("mkdir " + path + ": not a directory");
  }
  return {};
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace berth::os
