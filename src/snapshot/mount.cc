#include "snapshot/mount.h"

#include <sys/mount.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>
#include <utility>

#include "base/log.h"

namespace berth::snapshot {
namespace {

struct FlagWord {
  std::string_view word;
  bool clear;  // the word clears the flag ("rw", "suid", ...)
  unsigned long flag;
};

// The flag words mount(8) knows that matter to us; the rest reach the file system as data.
constexpr FlagWord kFlagWords[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"private", false, MS_PRIVATE},
    {"rprivate", false, MS_PRIVATE | MS_REC},
};

void ParseOptions(const std::vector<std::string>& options, unsigned long* flags,
                  std::string* data) {
  for (const std::string& option : options) {
    bool matched = false;
    for (const FlagWord& f : kFlagWords) {
      if (option == f.word) {
        if (f.clear) {
          *flags &= ~f.flag;
        } else {
          *flags |= f.flag;
        }
        matched = true;
        break;
      }
    }
    if (!matched) {
      if (!data->empty()) {
        data->push_back(',');
      }
      data->append(option);
    }
  }
}

}  // namespace

Result<> MountAt(const Mount& mount, const std::string& target) {
  if (target.empty()) {
    return Error::InvalidArgument("mount: empty target");
  }
  unsigned long flags = 0;
  std::string data;
  ParseOptions(mount.options, &flags, &data);
  std::string type = mount.type;
  if (type == "bind" || type == "rbind") {
    flags |= MS_BIND;
    if (type == "rbind") {
      flags |= MS_REC;
    }
  }
  constexpr unsigned long kPropagation = MS_PRIVATE | MS_SHARED | MS_SLAVE | MS_UNBINDABLE;
  unsigned long propagation = flags & kPropagation;
  flags &= ~kPropagation;
  if (propagation != 0) {
    flags &= ~MS_REC;
  }

  if ((flags & MS_BIND) != 0) {
    // A bind ignores MS_RDONLY and the other per-mount flags on the first call: mount, then
    // remount with the flags.
    if (::mount(mount.source.c_str(), target.c_str(), nullptr, flags & (MS_BIND | MS_REC),
                nullptr) != 0) {
      return Error::FromErrno("mount bind " + mount.source + " on " + target, errno);
    }
    unsigned long extra = flags & ~(MS_BIND | MS_REC);
    if (extra != 0) {
      if (::mount("", target.c_str(), nullptr, MS_REMOUNT | MS_BIND | extra, nullptr) != 0) {
        int err = errno;
        ::umount2(target.c_str(), MNT_DETACH);
        return Error::FromErrno("remount " + target, err);
      }
    }
  } else {
    if (data.size() >= 4096) {
      return Error::InvalidArgument("mount " + target + ": options are " +
                                    std::to_string(data.size()) +
                                    " bytes, more than mount(2) takes (one page)");
    }
    if (::mount(mount.source.c_str(), target.c_str(), type.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) != 0) {
      return Error::FromErrno("mount " + type + " on " + target, errno);
    }
  }
  if (propagation != 0) {
    if (::mount("", target.c_str(), nullptr, propagation, nullptr) != 0) {
      int err = errno;
      ::umount2(target.c_str(), MNT_DETACH);
      return Error::FromErrno("set propagation of " + target, err);
    }
  }
  return {};
}

Result<> Unmount(const std::string& target, int flags) {
  // EBUSY can be transient: a child process another thread is just spawning holds a copy of
  // the fd table (with our close-on-exec fds into the mount) until it execs. Retry for a while,
  // as containerd does, before reporting it.
  constexpr int kBusyRetries = 50;
  for (int busy = 0;;) {
    if (::umount2(target.c_str(), flags) == 0) {
      return {};
    }
    if (errno == EBUSY && ++busy < kBusyRetries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (errno != EINTR) {
      return Error::FromErrno("umount " + target, errno);
    }
  }
}

ScopedMount::ScopedMount(ScopedMount&& other) noexcept
    : target_(std::move(other.target_)), count_(std::exchange(other.count_, 0)) {}

ScopedMount& ScopedMount::operator=(ScopedMount&& other) noexcept {
  if (this != &other) {
    DetachAll();
    target_ = std::move(other.target_);
    count_ = std::exchange(other.count_, 0);
  }
  return *this;
}

ScopedMount::~ScopedMount() {
  DetachAll();
}

Result<> ScopedMount::Unmount() {
  while (count_ > 0) {
    BERTH_TRY(snapshot::Unmount(target_));
    --count_;
  }
  return {};
}

void ScopedMount::DetachAll() noexcept {
  while (count_ > 0) {
    if (::umount2(target_.c_str(), 0) != 0 && ::umount2(target_.c_str(), MNT_DETACH) != 0) {
      log::Warn("cannot unmount " + target_ + ": " + std::strerror(errno));
      count_ = 0;
      return;
    }
    --count_;
  }
}

Result<ScopedMount> MountAll(const std::vector<Mount>& mounts, const std::string& target) {
  int count = 0;
  for (const Mount& m : mounts) {
    Result<> r = MountAt(m, target);
    if (!r.ok()) {
      ScopedMount undo(target, count);
      (void)undo.Unmount();
      return std::move(r).error();
    }
    ++count;
  }
  return ScopedMount(target, count);
}

}  // namespace berth::snapshot
