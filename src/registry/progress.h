// Transfer progress: what the registry client reports about each blob it moves, and a throttle
// that keeps a renderer from drawing more often than a reader can follow.
//
// Client::FetchBlob*, Client::PushBlob, Pull and Push call a ProgressFn with a BlobProgress for
// each blob: kStarted, then kTransferring as bytes move (as often as the HTTP transport reports,
// many times a second), then one of kDone / kExists / kMounted when it succeeds (nothing more
// when it fails: the error says why). A blob found in place reports only kExists. Renderers (the
// CLI) decide what to show; ThrottledProgress sits between the two.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "digest/digest.h"

namespace berth::registry {

// The progress of one blob transfer, reported to a ProgressFn.
struct BlobProgress {
  enum class State {
    kStarted,       // about to transfer
    kTransferring,  // bytes moving (done < total)
    kExists,        // skipped: the destination had it
    kMounted,       // pushed by cross-repository mount
    kDone,          // transferred and verified
  };
  digest::Digest digest;
  std::string media_type;
  uint64_t done = 0;
  uint64_t total = 0;
  State state = State::kStarted;
};
// Called from transfer threads, possibly several at once: must be thread-safe and quick.
using ProgressFn = std::function<void(const BlobProgress&)>;

// Whether `state` ends a blob's reports (kDone, kExists, kMounted).
bool IsFinal(BlobProgress::State state);

// Wraps `inner` so that, per blob, kTransferring reports reach it at most once per `interval`
// (the first one only after `interval` has passed since kStarted, so blobs that finish quickly
// show no intermediate line); kStarted and the final states always pass. Thread-safe; `inner`
// is called from the reporting threads, concurrently for different blobs, so it must be
// thread-safe too. `now` is the clock (tests pass a fake one).
ProgressFn ThrottledProgress(
    ProgressFn inner, std::chrono::milliseconds interval,
    std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now);

}  // namespace berth::registry
