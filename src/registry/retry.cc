#include "registry/retry.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace berth::registry {

std::chrono::milliseconds RetryPolicy::Backoff(int attempt, double random01) const {
  double base =
      static_cast<double>(initial_backoff.count()) * std::pow(multiplier, std::max(0, attempt - 1));
  base = std::min(base, static_cast<double>(max_backoff.count()));
  double factor = 1.0 + jitter * (2.0 * std::clamp(random01, 0.0, 1.0) - 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, base * factor)));
}

std::chrono::milliseconds RetryPolicy::Backoff(int attempt) const {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  return Backoff(attempt, dist(rng));
}

bool RetryPolicy::RetryableStatus(long status) {
  if (status == 429 || status == 408) {
    return true;
  }
  return status >= 500 && status <= 599 && status != 501 && status != 505;
}

}  // namespace berth::registry
