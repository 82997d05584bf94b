// Retry policy for registry requests: exponential backoff with jitter.
//
// Retried: network errors, 5xx and 429 answers, for idempotent requests (GET, HEAD, manifest
// PUT) and for uploads that can restart from the beginning of the blob. Never retried: other 4xx
// answers (the request itself is wrong), cancellation.
#pragma once

#include <chrono>

namespace berth::registry {

struct RetryPolicy {
  int max_attempts = 4;  // including the first; 1 disables retries
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  double multiplier = 2.0;
  double jitter = 0.2;  // the delay varies by +-jitter of itself

  // The delay before attempt `attempt` + 1 after attempt `attempt` (1-based) failed, for a
  // uniform random `random01` in [0, 1): initial * multiplier^(attempt-1), capped at max, then
  // scaled by 1 + jitter * (2 * random01 - 1).
  std::chrono::milliseconds Backoff(int attempt, double random01) const;
  // The same with a random jitter.
  std::chrono::milliseconds Backoff(int attempt) const;

  // Whether an answer with HTTP `status` is worth retrying (5xx except 501/505, and 429, 408).
  static bool RetryableStatus(long status);
};

}  // namespace berth::registry
