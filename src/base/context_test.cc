#include "base/context.h"

#include <thread>

#include <gtest/gtest.h>

namespace berth {
namespace {

using std::chrono::milliseconds;

TEST(ContextTest, BackgroundIsLive) {
  Context ctx = Context::Background();
  EXPECT_FALSE(ctx.Done());
  EXPECT_TRUE(ctx.Check().ok());
}

TEST(ContextTest, CancelPropagatesDownNotUp) {
  Context root = Context::Background();
  Context child = root.WithCancel();
  Context grandchild = child.WithCancel();
  Context sibling = root.WithCancel();
  child.Cancel("stop");
  EXPECT_TRUE(child.Done());
  EXPECT_TRUE(grandchild.Done());
  EXPECT_EQ(grandchild.Check().error().message(), "stop");
  EXPECT_FALSE(root.Done());
  EXPECT_FALSE(sibling.Done());
}

TEST(ContextTest, ChildOfCancelledIsCancelled) {
  Context root = Context::Background().WithCancel();
  root.Cancel();
  EXPECT_TRUE(root.WithCancel().Done());
}

TEST(ContextTest, Deadline) {
  Context ctx = Context::Background().WithTimeout(milliseconds(20));
  EXPECT_FALSE(ctx.Done());
  EXPECT_TRUE(ctx.WaitFor(milliseconds(5000)));
  EXPECT_EQ(ctx.Check().error().code(), ErrorCode::kDeadlineExceeded);
  // A child cannot outlive its parent's deadline.
  EXPECT_LE(ctx.WithTimeout(milliseconds(100000)).deadline(), ctx.deadline());
}

TEST(ContextTest, WaitForWakesOnCancel) {
  Context ctx = Context::Background().WithCancel();
  std::thread t([ctx] { ctx.Cancel(); });
  EXPECT_TRUE(ctx.WaitFor(milliseconds(10000)));
  t.join();
}

}  // namespace
}  // namespace berth
