// SingleFlight: concurrent calls with the same key run the work once and share its result
// (BuildKit's flightcontrol). Thread-safe. A call whose work fails shares the error; the key is
// forgotten once the work ends, so a later call runs it again.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "base/result.h"

namespace berth {

template <typename K, typename V>
class SingleFlight {
 public:
  // Runs `fn` unless a call with `key` is already running, in which case it waits for that one.
  // `shared`, if given, tells whether the result came from another caller's run.
  Result<V> Do(const K& key, const std::function<Result<V>()>& fn, bool* shared = nullptr) {
    std::shared_ptr<Call> call;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = calls_.find(key);
      if (it == calls_.end()) {
        call = std::make_shared<Call>();
        calls_.emplace(key, call);
        leader = true;
      } else {
        call = it->second;
      }
    }
    if (shared != nullptr) {
      *shared = !leader;
    }
    if (!leader) {
      std::unique_lock<std::mutex> lock(call->mu);
      call->cv.wait(lock, [&] { return call->result.has_value(); });
      return *call->result;
    }
    Result<V> result = fn();
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.erase(key);
    }
    {
      std::lock_guard<std::mutex> lock(call->mu);
      call->result = result;
    }
    call->cv.notify_all();
    return result;
  }

 private:
  struct Call {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<V>> result;
  };
  std::mutex mu_;
  std::map<K, std::shared_ptr<Call>> calls_;
};

}  // namespace berth
