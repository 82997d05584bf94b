#include "engine/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <set>
#include <thread>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::engine {
namespace {

using Clock = std::chrono::steady_clock;

const char* KindName(StepUpdate::Kind kind) {
  switch (kind) {
    case StepUpdate::Kind::kStarted:
      return "started";
    case StepUpdate::Kind::kCached:
      return "cached";
    case StepUpdate::Kind::kDone:
      return "done";
    case StepUpdate::Kind::kError:
      return "error";
    case StepUpdate::Kind::kLog:
      return "log";
  }
  return "?";
}

class PlainRenderer final : public Renderer {
 public:
  explicit PlainRenderer(FILE* out) : out_(out) {}

  void Update(const StepUpdate& u) override {
    std::lock_guard lock(mu_);
    if (named_.insert(u.step).second) {
      std::fprintf(out_, "#%d %s\n", u.step, u.name.c_str());
    }
    switch (u.kind) {
      case StepUpdate::Kind::kStarted:
        break;
      case StepUpdate::Kind::kCached:
        std::fprintf(out_, "#%d CACHED\n", u.step);
        break;
      case StepUpdate::Kind::kDone:
        std::fprintf(out_, "#%d DONE %.1fs\n", u.step, u.seconds);
        break;
      case StepUpdate::Kind::kError:
        std::fprintf(out_, "#%d ERROR: %s\n", u.step, u.text.c_str());
        break;
      case StepUpdate::Kind::kLog:
        std::fprintf(out_, "#%d %s\n", u.step, u.text.c_str());
        break;
    }
    std::fflush(out_);
  }

 private:
  FILE* out_;
  std::mutex mu_;
  std::set<int> named_;
};

class JsonRenderer final : public Renderer {
 public:
  explicit JsonRenderer(FILE* out) : out_(out) {}
  void Update(const StepUpdate& u) override {
    std::string line = ToJson(u);
    std::lock_guard lock(mu_);
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }

 private:
  FILE* out_;
  std::mutex mu_;
};

// The live terminal view. A ticker thread redraws every 100 ms while anything changed or a step
// is running (its time moves); the view is drawn over itself by moving the cursor up.
class TtyRenderer final : public Renderer {
 public:
  explicit TtyRenderer(FILE* out) : out_(out), start_(Clock::now()) {
    ticker_ = std::thread([this] { Tick(); });
  }
  ~TtyRenderer() override { Finish(); }

  void Update(const StepUpdate& u) override {
    std::lock_guard lock(mu_);
    if (static_cast<size_t>(u.step) > steps_.size()) {
      steps_.resize(static_cast<size_t>(u.step));
    }
    Step& s = steps_[static_cast<size_t>(u.step) - 1];
    if (s.name.empty()) {
      s.name = u.name;
      s.started = Clock::now();
    }
    switch (u.kind) {
      case StepUpdate::Kind::kStarted:
        s.state = State::kRunning;
        s.started = Clock::now();
        break;
      case StepUpdate::Kind::kCached:
        s.state = State::kCached;
        break;
      case StepUpdate::Kind::kDone:
        s.state = State::kDone;
        s.seconds = u.seconds;
        break;
      case StepUpdate::Kind::kError:
        s.state = State::kError;
        s.seconds = u.seconds;
        s.error = u.text;
        break;
      case StepUpdate::Kind::kLog:
        s.tail.push_back(u.text);
        if (s.tail.size() > kTailLines) {
          s.tail.pop_front();
        }
        break;
    }
    dirty_ = true;
  }

  void Finish() override {
    {
      std::lock_guard lock(mu_);
      if (finished_) {
        return;
      }
      finished_ = true;
    }
    cv_.notify_all();
    if (ticker_.joinable()) {
      ticker_.join();
    }
    std::lock_guard lock(mu_);
    Draw(/*final=*/true);
  }

 private:
  enum class State { kWaiting, kRunning, kCached, kDone, kError };
  struct Step {
    std::string name;
    State state = State::kWaiting;
    Clock::time_point started;
    double seconds = 0;
    std::string error;
    std::deque<std::string> tail;
  };
  static constexpr size_t kTailLines = 6;

  void Tick() {
    std::unique_lock lock(mu_);
    while (!finished_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      if (finished_) {
        break;
      }
      bool running = false;
      for (const Step& s : steps_) {
        running = running || s.state == State::kRunning;
      }
      if (dirty_ || running) {
        Draw(/*final=*/false);
      }
    }
  }

  // Cuts `line` to `width` columns (bytes for ASCII; never inside a UTF-8 sequence).
  static std::string Fit(std::string line, size_t width) {
    if (line.size() <= width) {
      return line;
    }
    size_t cut = width;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    line.resize(cut);
    return line;
  }

  // REQUIRES: mu_ held.
  void Draw(bool final) {
    struct winsize ws {};
    size_t width = 80;
    size_t height = 24;
    if (::ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      width = ws.ws_col;
      height = ws.ws_row > 2 ? ws.ws_row : 24;
    }
    Clock::time_point now = Clock::now();
    size_t finished = 0;
    for (const Step& s : steps_) {
      finished += s.state == State::kCached || s.state == State::kDone ? 1 : 0;
    }
    std::vector<std::string> lines;
    char header[128];
    std::snprintf(header, sizeof(header), "[+] Building %.1fs (%zu/%zu)%s",
                  std::chrono::duration<double>(now - start_).count(), finished, steps_.size(),
                  final ? " FINISHED" : "");
    lines.emplace_back(header);
    for (const Step& s : steps_) {
      if (s.name.empty()) {
        continue;
      }
      std::string prefix = " => ";
      double seconds = s.seconds;
      switch (s.state) {
        case State::kCached:
          prefix += "CACHED ";
          break;
        case State::kError:
          prefix += "ERROR ";
          break;
        case State::kRunning:
        case State::kWaiting:
          seconds = std::chrono::duration<double>(now - s.started).count();
          break;
        case State::kDone:
          break;
      }
      std::string left = prefix + s.name;
      std::string right;
      if (s.state != State::kCached) {
        char t[32];
        std::snprintf(t, sizeof(t), " %.1fs", seconds);
        right = t;
      }
      if (left.size() + right.size() + 1 > width) {
        left = Fit(left, width > right.size() + 4 ? width - right.size() - 4 : 1) + "...";
      }
      lines.push_back(left +
                      std::string(width - 1 > left.size() + right.size()
                                      ? width - 1 - left.size() - right.size()
                                      : 0,
                                  ' ') +
                      right);
      bool show_tail = s.state == State::kRunning || (final && s.state == State::kError);
      if (show_tail) {
        for (const std::string& l : s.tail) {
          lines.push_back(Fit(" => => # " + l, width - 1));
        }
      }
    }
    if (!final && lines.size() > height - 1) {
      // Live: the newest lines that fit; the final screen shows everything.
      lines.erase(lines.begin() + 1, lines.begin() + 1 + (lines.size() - (height - 1)));
    }
    std::string frame;
    if (drawn_ > 0) {
      frame += "\x1b[" + std::to_string(drawn_) + "A";
    }
    frame += "\x1b[J";
    for (const std::string& l : lines) {
      frame += final ? l : Fit(l, width - 1);
      frame += "\n";
    }
    std::fputs(frame.c_str(), out_);
    std::fflush(out_);
    drawn_ = final ? 0 : lines.size();
    dirty_ = false;
  }

  FILE* out_;
  Clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Step> steps_;
  size_t drawn_ = 0;
  bool dirty_ = false;
  bool finished_ = false;
  std::thread ticker_;
};

}  // namespace

std::string ToJson(const StepUpdate& u) {
  nlohmann::json j = {{"step", u.step}, {"name", u.name}, {"kind", KindName(u.kind)}};
  if (!u.vertex.empty()) {
    j["vertex"] = u.vertex;
  }
  if (u.line > 0) {
    j["line"] = u.line;
  }
  if (u.source) {
    j["source"] = true;
  }
  if (u.kind == StepUpdate::Kind::kDone || u.kind == StepUpdate::Kind::kError) {
    j["seconds"] = u.seconds;
  }
  if (u.layer_size > 0) {
    j["layer_size"] = u.layer_size;
  }
  if (!u.text.empty()) {
    j["text"] = u.text;
  }
  // Step output may be any bytes: invalid UTF-8 is replaced rather than refused.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<StepUpdate> StepUpdateFromJson(std::string_view line) {
  try {
    nlohmann::json j = nlohmann::json::parse(line);
    StepUpdate u;
    u.step = j.at("step").get<int>();
    if (u.step < 1) {
      return Error::InvalidArgument("progress event: step must be >= 1");
    }
    u.name = j.value("name", "");
    std::string kind = j.at("kind").get<std::string>();
    bool known = false;
    for (StepUpdate::Kind k :
         {StepUpdate::Kind::kStarted, StepUpdate::Kind::kCached, StepUpdate::Kind::kDone,
          StepUpdate::Kind::kError, StepUpdate::Kind::kLog}) {
      if (kind == KindName(k)) {
        u.kind = k;
        known = true;
      }
    }
    if (!known) {
      return Error::InvalidArgument("progress event: unknown kind \"" + kind + "\"");
    }
    u.seconds = j.value("seconds", 0.0);
    u.layer_size = j.value("layer_size", int64_t{0});
    u.text = j.value("text", "");
    u.vertex = j.value("vertex", "");
    u.line = j.value("line", 0);
    u.source = j.value("source", false);
    return u;
  } catch (const std::exception& e) {
    return Error::InvalidArgument(std::string("progress event: ") + e.what());
  }
}

Result<ProgressMode> ParseProgressMode(std::string_view text, FILE* out) {
  if (text == "auto" || text.empty()) {
    return out != nullptr && ::isatty(fileno(out)) ? ProgressMode::kTty : ProgressMode::kPlain;
  }
  if (text == "plain") {
    return ProgressMode::kPlain;
  }
  if (text == "tty") {
    return ProgressMode::kTty;
  }
  if (text == "rawjson") {
    return ProgressMode::kJson;
  }
  return Error::InvalidArgument("--progress " + std::string(text) +
                                ": want auto, plain, tty or rawjson");
}

std::unique_ptr<Renderer> NewRenderer(ProgressMode mode, FILE* out) {
  switch (mode) {
    case ProgressMode::kTty:
      return std::make_unique<TtyRenderer>(out);
    case ProgressMode::kJson:
      return std::make_unique<JsonRenderer>(out);
    case ProgressMode::kPlain:
      break;
  }
  return std::make_unique<PlainRenderer>(out);
}

std::string TargetStepName(const std::string& target, const std::string& name) {
  if (target.empty()) {
    return name;
  }
  return name.starts_with("[") ? "[" + target + " " + name.substr(1) : "[" + target + "] " + name;
}

namespace {

class TargetRenderer final : public Renderer {
 public:
  TargetRenderer(Renderer& shared, std::string target, StepNumbers& numbers)
      : shared_(shared), target_(std::move(target)), numbers_(numbers) {}

  void Update(const StepUpdate& update) override {
    std::lock_guard lock(numbers_.mu());
    StepUpdate u = update;
    auto [it, inserted] = steps_.emplace(update.step, 0);
    if (inserted) {
      it->second = numbers_.Next();
    }
    u.step = it->second;
    u.name = TargetStepName(target_, update.name);
    shared_.Update(u);
  }

 private:
  Renderer& shared_;
  std::string target_;
  StepNumbers& numbers_;
  std::map<int, int> steps_;  // the build's step number -> the shared one
};

}  // namespace

std::unique_ptr<Renderer> NewTargetRenderer(Renderer& shared, std::string target,
                                            StepNumbers& numbers) {
  return std::make_unique<TargetRenderer>(shared, std::move(target), numbers);
}

void Progress::Describe(graph::VertexId id, StepUpdate& u) const {
  const graph::Vertex& v = graph_.vertex(id);
  u.name = TargetStepName(target_, v.metadata.description);
  u.vertex = v.digest.ToString();
  u.line = v.metadata.locations.empty() ? 0 : v.metadata.locations.front().start_line;
  u.source = std::holds_alternative<graph::SourceOp>(v.op.op);
}

int Progress::NumberLocked(graph::VertexId vertex, bool* fresh) {
  auto [it, inserted] = numbers_.emplace(vertex, 0);
  if (inserted) {
    it->second = numbers_shared_->Next();
  }
  *fresh = inserted;
  return it->second;
}

void Progress::Event(const solver::VertexEvent& event) {
  if (renderer_ == nullptr) {
    return;
  }
  // Held while rendering, so that steps appear in the order they are numbered.
  std::lock_guard lock(numbers_shared_->mu());
  StepUpdate u;
  bool fresh = false;
  u.step = NumberLocked(event.vertex, &fresh);
  Describe(event.vertex, u);
  u.seconds = std::chrono::duration<double>(event.duration).count();
  switch (event.kind) {
    case solver::VertexEvent::Kind::kStarted:
      u.kind = StepUpdate::Kind::kStarted;
      break;
    case solver::VertexEvent::Kind::kCached:
      u.kind = StepUpdate::Kind::kCached;
      break;
    case solver::VertexEvent::Kind::kDone:
      u.kind = StepUpdate::Kind::kDone;
      break;
    case solver::VertexEvent::Kind::kFailed:
      u.kind = StepUpdate::Kind::kError;
      u.text = event.error;
      break;
  }
  if (layer_size_ && !event.cache_key.empty() && !u.source &&
      (u.kind == StepUpdate::Kind::kDone || u.kind == StepUpdate::Kind::kCached)) {
    u.layer_size = layer_size_(event.cache_key);
  }
  renderer_->Update(u);
}

void Progress::Log(graph::VertexId vertex, std::string_view line) {
  if (renderer_ == nullptr) {
    return;
  }
  std::lock_guard lock(numbers_shared_->mu());
  StepUpdate u;
  bool fresh = false;
  u.step = NumberLocked(vertex, &fresh);
  Describe(vertex, u);
  u.kind = StepUpdate::Kind::kLog;
  u.text = std::string(line);
  renderer_->Update(u);
}

}  // namespace berth::engine
