#include "solver/solver.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace berth::solver {
namespace {

using graph::Graph;
using graph::Op;
using graph::Ref;
using graph::VertexId;

// Each op is an Exec whose first arg names it; running it "produces" name(inputs...).
class FakeRunner : public OpRunner {
 public:
  Result<std::string> ContentKey(const Context&, const graph::Vertex& v,
                                 const std::vector<Input>&) override {
    std::lock_guard<std::mutex> lock(mu_);
    return content_[Name(v)];
  }

  Result<std::vector<std::string>> Run(const Context& ctx, const graph::Vertex& v,
                                       const std::vector<Input>& inputs) override {
    std::string name = Name(v);
    int now = ++running_;
    int seen = max_running_.load();
    while (now > seen && !max_running_.compare_exchange_weak(seen, now)) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++runs_[name];
    }
    if (name.rfind("slow", 0) == 0) {
      ctx.WaitFor(std::chrono::milliseconds(300));
    }
    --running_;
    if (name.rfind("fail", 0) == 0) {
      return Error::Internal(name + " failed");
    }
    if (ctx.Done()) {
      cancelled_seen_ = true;
      return Error::Cancelled("cancelled");
    }
    std::string out = name + "(";
    for (const Input& in : inputs) {
      out += in.ref() + ",";
    }
    return std::vector<std::string>{out + ")"};
  }

  static std::string Name(const graph::Vertex& v) {
    return std::get<graph::ExecOp>(v.op.op).args[0];
  }
  int runs(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_[name];
  }
  void set_content(const std::string& name, const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    content_[name] = key;
  }
  int max_running() const { return max_running_.load(); }
  bool cancelled_seen() const { return cancelled_seen_.load(); }

 private:
  std::mutex mu_;
  std::map<std::string, int> runs_;
  std::map<std::string, std::string> content_;
  std::atomic<int> running_{0};
  std::atomic<int> max_running_{0};
  std::atomic<bool> cancelled_seen_{false};
};

class MemoryCache : public ResultCache {
 public:
  Result<std::vector<std::string>> Lookup(const Context&, const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      return Error::NotFound(key);
    }
    return it->second;
  }
  Result<std::vector<std::string>> Put(const Context&, const std::string& key,
                                       const std::vector<std::string>& outputs) override {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.emplace(key, outputs).first->second;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<std::string>> entries_;
};

VertexId Exec(Graph& g, const std::string& name, std::vector<Ref> inputs,
              bool ignore_cache = false) {
  Op op;
  op.inputs = std::move(inputs);
  graph::ExecOp exec;
  exec.args = {name};
  op.op = exec;
  graph::Metadata meta;
  meta.ignore_cache = ignore_cache;
  return g.Add(op, meta).value();
}

TEST(SolverTest, SolvesInDependencyOrderAndPassesInputs) {
  Graph g;
  VertexId a = Exec(g, "a", {Ref{}});
  VertexId b = Exec(g, "b", {Ref{a, 0}});
  VertexId c = Exec(g, "c", {Ref{a, 0}, Ref{b, 0}});
  FakeRunner runner;
  MemoryCache cache;
  Solver solver(runner, cache);
  Result<VertexResult> r = solver.Solve(Context::Background(), g, Ref{c, 0});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->outputs[0], "c(a(,),b(a(,),),)");
  EXPECT_EQ(runner.runs("a"), 1);
}

TEST(SolverTest, SecondSolveIsFullyCached) {
  Graph g;
  VertexId a = Exec(g, "a", {});
  VertexId b = Exec(g, "b", {Ref{a, 0}});
  FakeRunner runner;
  MemoryCache cache;
  Solver solver(runner, cache);
  std::vector<VertexEvent::Kind> kinds;
  std::mutex mu;
  SolveOptions opts;
  opts.progress = [&](const VertexEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    kinds.push_back(e.kind);
  };
  ASSERT_TRUE(solver.Solve(Context::Background(), g, Ref{b, 0}, opts).ok());
  kinds.clear();
  Result<VertexResult> again = solver.Solve(Context::Background(), g, Ref{b, 0}, opts);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(runner.runs("a"), 1);
  EXPECT_EQ(runner.runs("b"), 1);
  EXPECT_EQ(kinds, (std::vector<VertexEvent::Kind>{VertexEvent::Kind::kCached,
                                                   VertexEvent::Kind::kCached}));
}

TEST(SolverTest, ContentChangeRerunsFromThatStepOn) {
  Graph g;
  VertexId a = Exec(g, "a", {});
  VertexId copy = Exec(g, "copy", {Ref{a, 0}});
  VertexId run = Exec(g, "run", {Ref{copy, 0}});
  FakeRunner runner;
  MemoryCache cache;
  Solver solver(runner, cache);
  ASSERT_TRUE(solver.Solve(Context::Background(), g, Ref{run, 0}).ok());
  runner.set_content("copy", "sha256:changed-file");
  ASSERT_TRUE(solver.Solve(Context::Background(), g, Ref{run, 0}).ok());
  EXPECT_EQ(runner.runs("a"), 1);
  EXPECT_EQ(runner.runs("copy"), 2);
  EXPECT_EQ(runner.runs("run"), 2);
}

TEST(SolverTest, IgnoreCacheRerunsButStores) {
  Graph g;
  VertexId a = Exec(g, "a", {}, /*ignore_cache=*/true);
  FakeRunner runner;
  MemoryCache cache;
  Solver solver(runner, cache);
  ASSERT_TRUE(solver.Solve(Context::Background(), g, Ref{a, 0}).ok());
  ASSERT_TRUE(solver.Solve(Context::Background(), g, Ref{a, 0}).ok());
  EXPECT_EQ(runner.runs("a"), 2);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(SolverTest, IndependentBranchesRunInParallel) {
  Graph g;
  VertexId x = Exec(g, "slow-x", {});
  VertexId y = Exec(g, "slow-y", {});
  VertexId join = Exec(g, "join", {Ref{x, 0}, Ref{y, 0}});
  FakeRunner runner;
  MemoryCache cache;
  Solver solver(runner, cache);
  SolveOptions opts;
  opts.parallelism = 2;
  ASSERT_TRUE(solver.Solve(Context::Background(), g, Ref{join, 0}, opts).ok());
  EXPECT_EQ(runner.max_running(), 2);
}

TEST(SolverTest, FirstFailureCancelsTheRest) {
  Graph g;
  VertexId slow = Exec(g, "slow", {});
  VertexId fail = Exec(g, "fail", {});
  VertexId join = Exec(g, "join", {Ref{slow, 0}, Ref{fail, 0}});
  FakeRunner runner;
  MemoryCache cache;
  Solver solver(runner, cache);
  Result<VertexResult> r = solver.Solve(Context::Background(), g, Ref{join, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "fail failed");
  EXPECT_TRUE(runner.cancelled_seen());
  EXPECT_EQ(runner.runs("join"), 0);
}

TEST(SolverTest, ConcurrentSolvesRunEachStepOnce) {
  Graph g;
  VertexId a = Exec(g, "slow-a", {});
  VertexId b = Exec(g, "b", {Ref{a, 0}});
  FakeRunner runner;
  MemoryCache cache;
  Solver solver(runner, cache);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      ok += solver.Solve(Context::Background(), g, Ref{b, 0}).ok() ? 1 : 0;
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(runner.runs("slow-a"), 1);
  EXPECT_EQ(runner.runs("b"), 1);
}

// The targets of one bake: different graphs, each solve with its own runner (its own contexts),
// one solver: the step they share runs once, the steps whose content differs run in each.
TEST(SolverTest, SolvesWithTheirOwnRunnersShareIdenticalSteps) {
  Graph g1;
  VertexId base1 = Exec(g1, "slow-base", {});
  VertexId app1 = Exec(g1, "app", {Ref{base1, 0}});
  Graph g2;
  VertexId base2 = Exec(g2, "slow-base", {});
  VertexId app2 = Exec(g2, "app", {Ref{base2, 0}});
  FakeRunner own;
  FakeRunner first;
  FakeRunner second;
  first.set_content("app", "context-1");
  second.set_content("app", "context-2");
  MemoryCache cache;
  Solver solver(own, cache);
  Result<VertexResult> r1 = Error::Internal("unset");
  Result<VertexResult> r2 = Error::Internal("unset");
  std::thread t1([&] {
    r1 = solver.Solve(Context::Background(), g1, Ref{app1, 0}, {.runner = &first});
  });
  std::thread t2([&] {
    r2 = solver.Solve(Context::Background(), g2, Ref{app2, 0}, {.runner = &second});
  });
  t1.join();
  t2.join();
  ASSERT_TRUE(r1.ok()) << r1.error().ToString();
  ASSERT_TRUE(r2.ok()) << r2.error().ToString();
  EXPECT_EQ(first.runs("slow-base") + second.runs("slow-base"), 1);
  EXPECT_EQ(first.runs("app"), 1);
  EXPECT_EQ(second.runs("app"), 1);
  EXPECT_EQ(own.runs("slow-base") + own.runs("app"), 0);
  EXPECT_NE(r1->cache_key, r2->cache_key);
}

TEST(SolverTest, CacheKeysDependOnInputsAndContent) {
  Graph g;
  VertexId a = Exec(g, "a", {});
  const graph::Vertex& v = g.vertex(a);
  VertexResult r1{"k1", {"x"}};
  VertexResult r2{"k2", {"x"}};
  std::string base = Solver::CacheKey(v, {Input{&r1, 0}}, "");
  EXPECT_EQ(base, Solver::CacheKey(v, {Input{&r1, 0}}, ""));
  EXPECT_NE(base, Solver::CacheKey(v, {Input{&r2, 0}}, ""));
  EXPECT_NE(base, Solver::CacheKey(v, {Input{&r1, 0}}, "c"));
  EXPECT_NE(base, Solver::CacheKey(v, {Input{nullptr, 0}}, ""));
}

}  // namespace
}  // namespace berth::solver
