// Logging for berth's own diagnostics (not build output, which travels as progress events).
// Writes to stderr; the level comes from SetLevel() or BERTH_LOG_LEVEL (debug|info|warn|error).
#pragma once

#include <string_view>

namespace berth::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

void SetLevel(Level level);
Level GetLevel();
// Parses "debug", "info", "warn", "error" or "off"; returns false for anything else.
bool ParseLevel(std::string_view text, Level* level);

void Write(Level level, std::string_view message);
inline void Debug(std::string_view message) {
  Write(Level::kDebug, message);
}
inline void Info(std::string_view message) {
  Write(Level::kInfo, message);
}
inline void Warn(std::string_view message) {
  Write(Level::kWarn, message);
}
inline void Err(std::string_view message) {
  Write(Level::kError, message);
}

}  // namespace berth::log
