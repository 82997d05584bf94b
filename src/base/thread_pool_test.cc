#include "base/thread_pool.h"

#include <atomic>

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(ThreadPoolTest, RunsEveryTaskAndReturnsValues) {
  std::atomic<int> count{0};
  std::vector<std::future<int>> results;
  {
    ThreadPool pool(3);
    for (int i = 0; i < 100; ++i) {
      results.push_back(pool.Submit([i, &count] {
        count.fetch_add(1);
        return i * i;
      }));
    }
    EXPECT_EQ(results[10].get(), 100);
  }
  EXPECT_EQ(count.load(), 100);
  EXPECT_EQ(results[99].get(), 99 * 99);
}

TEST(ThreadPoolTest, DestructorDrainsQueue) {
  std::atomic<int> count{0};
  {
    ThreadPool pool(1);
    for (int i = 0; i < 50; ++i) {
      pool.Post([&count] { count.fetch_add(1); });
    }
  }
  EXPECT_EQ(count.load(), 50);
}

}  // namespace
}  // namespace berth
