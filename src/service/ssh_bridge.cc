#include "service/ssh_bridge.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "snapshot/fs_util.h"

namespace berth::service {

Result<std::unique_ptr<SshBridge>> SshBridge::Create(const std::vector<std::string>& ids) {
  if (ids.size() > 16) {
    return Error::InvalidArgument("ssh: at most 16 agent ids");
  }
  std::unique_ptr<SshBridge> b(new SshBridge());
  // A short path (sun_path holds 108 bytes), readable by root only.
  std::string dir = "/tmp/berth-ssh-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    return Error::FromErrno("mkdtemp " + dir, errno);
  }
  b->dir_ = dir;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    if (id.empty() || id.size() > 64 ||
        id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
            std::string::npos) {
      return Error::InvalidArgument("ssh: bad agent id " + id);
    }
    if (b->sockets_.count(id) != 0) {
      continue;
    }
    std::string path = dir + "/" + std::to_string(i) + ".sock";
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) {
      return Error::FromErrno("ssh: socket", errno);
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd.get(), 16) != 0) {
      return Error::FromErrno("ssh: listening on " + path, errno);
    }
    // The directory is root's alone; a RUN of any user reaches the socket through its mount.
    if (::chmod(path.c_str(), 0666) != 0) {
      return Error::FromErrno("ssh: chmod " + path, errno);
    }
    b->sockets_[id] = path;
    b->listeners_.emplace_back(id, std::move(fd));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Error::FromErrno("ssh: pipe", errno);
  }
  b->wake_read_ = UniqueFd(pipe_fds[0]);
  b->wake_write_ = UniqueFd(pipe_fds[1]);
  b->thread_ = std::thread([raw = b.get()] { raw->AcceptLoop(); });
  return b;
}

SshBridge::~SshBridge() {
  Close();
  if (thread_.joinable()) {
    thread_.join();
  }
  {
    std::lock_guard lock(mu_);
    for (auto& [conn, fd] : conns_) {
      ::shutdown(fd->get(), SHUT_RDWR);  // wakes a stream still reading or writing it
    }
  }
  listeners_.clear();
  if (!dir_.empty()) {
    (void)snapshot::RemoveAll(dir_);
  }
}

void SshBridge::AcceptLoop() {
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back({.fd = wake_read_.get(), .events = POLLIN, .revents = 0});
    for (const auto& [id, fd] : listeners_) {
      fds.push_back({.fd = fd.get(), .events = POLLIN, .revents = 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      return;
    }
    if (fds[0].revents != 0) {
      return;  // closed
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) {
        continue;
      }
      int c = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        continue;
      }
      std::lock_guard lock(mu_);
      int conn = ++next_conn_;
      conns_[conn] = std::make_shared<UniqueFd>(c);
      queue_.push_back({.conn = conn, .id = listeners_[i - 1].first});
      cv_.notify_all();
    }
  }
}

Result<std::optional<SshBridge::Pending>> SshBridge::Accept(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, wait, [&] { return closed_ || !queue_.empty(); });
  if (!queue_.empty()) {
    Pending p = queue_.front();
    queue_.pop_front();
    return std::optional<Pending>(p);
  }
  if (closed_) {
    return Error::Unavailable("the build has ended");
  }
  return std::optional<Pending>();
}

Result<std::shared_ptr<UniqueFd>> SshBridge::Connection(int conn) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(conn);
  if (it == conns_.end()) {
    return Error::NotFound("ssh connection " + std::to_string(conn) + " not found");
  }
  return it->second;
}

void SshBridge::Close() {
  std::lock_guard lock(mu_);
  if (closed_) {
    return;
  }
  closed_ = true;
  cv_.notify_all();
  char byte = 1;
  (void)::write(wake_write_.get(), &byte, 1);
}

}  // namespace berth::service
