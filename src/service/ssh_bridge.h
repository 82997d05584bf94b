// SshBridge: the server's end of forwarding a client's ssh-agent into a remote build
// (`berth build --ssh default` on berthd). The build gets a unix socket per ssh id, in a private
// temporary directory; each connection a RUN makes to one waits until the client takes it
// (Accept), and then its bytes travel over two HTTP streams: the container's to the client, the
// agent's back (service/remote.h has the endpoints). Nothing of the agent is stored.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::service {

class SshBridge {
 public:
  // Listens on a socket per id (at most 16 ids of [A-Za-z0-9_.-]{1,64}).
  static Result<std::unique_ptr<SshBridge>> Create(const std::vector<std::string>& ids);
  SshBridge(const SshBridge&) = delete;
  SshBridge& operator=(const SshBridge&) = delete;
  ~SshBridge();

  // id -> the socket a build mounts (BuildOptions::ssh).
  const std::map<std::string, std::string>& sockets() const { return sockets_; }

  struct Pending {
    int conn = 0;
    std::string id;
  };
  // The next connection a build made, waiting up to `wait`: nullopt when none came;
  // Unavailable once the bridge is closed.
  Result<std::optional<Pending>> Accept(std::chrono::milliseconds wait);
  // The socket of connection `conn`; NotFound for one that does not exist.
  Result<std::shared_ptr<UniqueFd>> Connection(int conn);
  // Stops accepting and wakes every Accept; connections already taken stay usable until the
  // bridge goes.
  void Close();

 private:
  SshBridge() = default;
  void AcceptLoop();

  std::string dir_;
  std::map<std::string, std::string> sockets_;
  std::vector<std::pair<std::string, UniqueFd>> listeners_;  // id, listening socket
  UniqueFd wake_read_;
  UniqueFd wake_write_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  int next_conn_ = 0;
  std::deque<Pending> queue_;
  std::map<int, std::shared_ptr<UniqueFd>> conns_;
};

}  // namespace berth::service
