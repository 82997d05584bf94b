#include "base/log.h"

#include <atomic>
#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace berth::log {
namespace {

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

Level InitialLevel() {
  Level level = Level::kWarn;
  if (const char* env = std::getenv("BERTH_LOG_LEVEL")) {  // NOLINT(concurrency-mt-unsafe)
    ParseLevel(env, &level);
  }
  return level;
}

std::atomic<Level>& CurrentLevel() {
  static std::atomic<Level> level{InitialLevel()};
  return level;
}

spdlog::logger& Logger() {
  static auto logger = [] {
    auto l = spdlog::stderr_color_mt("berth");
    l->set_pattern("%^%l%$: %v");
    l->set_level(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

}  // namespace

void SetLevel(Level level) {
  CurrentLevel().store(level);
}
Level GetLevel() {
  return CurrentLevel().load();
}

bool ParseLevel(std::string_view text, Level* level) {
  if (text == "debug") {
    *level = Level::kDebug;
  } else if (text == "info") {
    *level = Level::kInfo;
  } else if (text == "warn" || text == "warning") {
    *level = Level::kWarn;
  } else if (text == "error") {
    *level = Level::kError;
  } else if (text == "off") {
    *level = Level::kOff;
  } else {
    return false;
  }
  return true;
}

void Write(Level level, std::string_view message) {
  if (level < GetLevel() || level == Level::kOff) {
    return;
  }
  Logger().log(ToSpd(level), "{}", message);
}

}  // namespace berth::log
