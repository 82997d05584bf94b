#include "service/builder.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "base/log.h"
#include "engine/cache_admin.h"

namespace berth::service {
namespace {

using Clock = std::chrono::system_clock;

// Records steps in the store as their updates arrive, and forwards every update to the client.
class Recorder final : public engine::Renderer {
 public:
  Recorder(metastore::Store& store, std::string build_id, engine::Renderer* client)
      : store_(store), build_id_(std::move(build_id)), client_(client) {}

  void Update(const engine::StepUpdate& u) override {
    if (client_ != nullptr) {
      client_->Update(u);
    }
    std::lock_guard lock(mu_);
    if (u.vertex.empty()) {
      return;
    }
    metastore::BuildStep& step = steps_[u.vertex];
    bool fresh = step.build_id.empty();
    if (fresh) {
      step.build_id = build_id_;
      step.vertex = u.vertex;
      step.name = u.name;
      step.line = u.line;
      step.started_at = Clock::now();
    }
    bool write = fresh;
    switch (u.kind) {
      case engine::StepUpdate::Kind::kStarted:
        step.started_at = Clock::now();
        if (!first_miss_recorded_ && !u.source) {
          first_miss_recorded_ = true;
          (void)store_.SetFirstMissStep(Context::Background(), build_id_, u.vertex);
        }
        write = true;
        break;
      case engine::StepUpdate::Kind::kCached:
        step.cached = true;
        step.finished_at = Clock::now();
        step.layer_size = u.layer_size;
        write = true;
        break;
      case engine::StepUpdate::Kind::kDone:
      case engine::StepUpdate::Kind::kError:
        step.finished_at = Clock::now();
        step.layer_size = u.layer_size;
        step.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(u.seconds));
        if (u.kind == engine::StepUpdate::Kind::kError) {
          step.log += "ERROR: " + u.text + "\n";
        }
        write = true;
        break;
      case engine::StepUpdate::Kind::kLog:
        // Logs are written with the step's end (or Finish), not per line.
        if (step.log.size() < 2 * metastore::kMaxStepLogBytes) {
          step.log += u.text + "\n";
        }
        break;
    }
    if (write) {
      (void)store_.UpsertBuildStep(Context::Background(), step);
    }
  }

  void Finish() override {
    if (client_ != nullptr) {
      client_->Finish();
    }
    std::lock_guard lock(mu_);
    for (const auto& [vertex, step] : steps_) {
      (void)store_.UpsertBuildStep(Context::Background(), step);
    }
  }

 private:
  metastore::Store& store_;
  std::string build_id_;
  engine::Renderer* client_;
  std::mutex mu_;
  std::map<std::string, metastore::BuildStep> steps_;
  bool first_miss_recorded_ = false;
};

}  // namespace

Result<engine::BuildResult> Builder::Run(const Context& ctx, const metastore::Project& project,
                                         const std::string& build_id, engine::BuildOptions options,
                                         engine::Renderer* client) {
  // Wait for a free slot; the build stays queued meanwhile.
  {
    std::unique_lock lock(mu_);
    while (running_ >= options_.max_concurrent) {
      if (!ctx.Check().ok()) {
        (void)store_.UpdateBuildStatus(Context::Background(), build_id,
                                       metastore::BuildStatus::kCanceled, "cancelled while queued");
        return Error::Cancelled("build " + build_id + " cancelled while queued");
      }
      slot_free_.wait_for(lock, std::chrono::milliseconds(100));
    }
    ++running_;
  }
  struct Release {
    Builder* b;
    ~Release() {
      std::lock_guard lock(b->mu_);
      --b->running_;
      b->slot_free_.notify_one();
    }
  } release{this};

  BERTH_TRY(store_.UpdateBuildStatus(ctx, build_id, metastore::BuildStatus::kRunning));
  // From here on, every cache entry this build uses is touched at or after `started`.
  Clock::time_point started = Clock::now();
  std::multimap<std::string, Clock::time_point>::iterator mine;
  {
    std::lock_guard lock(mu_);
    mine = started_.emplace(project.id, started);
  }
  Recorder recorder(store_, build_id, client);
  options.root = options_.root;
  options.project = project.id;
  options.runtime = options_.runtime;
  options.renderer = &recorder;
  options.progress = nullptr;
  Result<engine::BuildResult> result = engine::Build(ctx, options);
  Evict(project, mine);
  if (result.ok()) {
    BERTH_TRY(store_.UpdateBuildStatus(Context::Background(), build_id,
                                       metastore::BuildStatus::kSuccess));
  } else {
    bool cancelled = !ctx.Check().ok();
    (void)store_.UpdateBuildStatus(
        Context::Background(), build_id,
        cancelled ? metastore::BuildStatus::kCanceled : metastore::BuildStatus::kFailed,
        result.error().ToString());
  }
  return result;
}

void Builder::Evict(const metastore::Project& project,
                    std::multimap<std::string, Clock::time_point>::iterator mine) {
  Clock::time_point keep = Clock::time_point::max();
  {
    std::lock_guard lock(mu_);
    started_.erase(mine);
    auto [first, last] = started_.equal_range(project.id);
    for (auto it = first; it != last; ++it) {
      keep = std::min(keep, it->second);
    }
  }
  // A failed eviction must not fail the build: the next one tries again.
  Result<engine::CacheCleanup> evicted = engine::EvictCache(
      Context::Background(), options_.root, project.id, project.cache_cap_bytes, keep);
  if (!evicted.ok()) {
    log::Warn("evicting the cache of project " + project.id + ": " + evicted.error().ToString());
  }
}

}  // namespace berth::service
