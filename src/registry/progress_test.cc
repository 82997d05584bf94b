#include "registry/progress.h"

#include <vector>

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

using State = BlobProgress::State;
using std::chrono::milliseconds;

class ThrottledProgressTest : public ::testing::Test {
 protected:
  ProgressFn Make() {
    return ThrottledProgress([this](const BlobProgress& p) { seen_.push_back(p); },
                             milliseconds(250), [this] { return now_; });
  }
  static BlobProgress At(const digest::Digest& d, State state, uint64_t done) {
    BlobProgress p;
    p.digest = d;
    p.state = state;
    p.done = done;
    p.total = 100;
    return p;
  }

  std::chrono::steady_clock::time_point now_{};
  std::vector<BlobProgress> seen_;
};

TEST_F(ThrottledProgressTest, PassesAtMostOneTransferReportPerIntervalPerBlob) {
  ProgressFn fn = Make();
  digest::Digest a = digest::FromBytes("a");
  digest::Digest b = digest::FromBytes("b");
  fn(At(a, State::kStarted, 0));
  fn(At(b, State::kStarted, 0));
  // Within the first interval nothing passes: a quick blob shows no intermediate line.
  for (int i = 1; i <= 10; ++i) {
    now_ += milliseconds(20);
    fn(At(a, State::kTransferring, static_cast<uint64_t>(i)));
  }
  ASSERT_EQ(seen_.size(), 2u);
  now_ += milliseconds(60);  // 260 ms after the start
  fn(At(a, State::kTransferring, 11));
  fn(At(a, State::kTransferring, 12));
  fn(At(b, State::kTransferring, 50));  // b has its own clock
  ASSERT_EQ(seen_.size(), 4u);
  EXPECT_EQ(seen_[2].done, 11u);
  EXPECT_EQ(seen_[3].digest, b);
  // A second of reports every 10 ms gives four lines for a.
  for (int i = 0; i < 100; ++i) {
    now_ += milliseconds(10);
    fn(At(a, State::kTransferring, 13 + static_cast<uint64_t>(i)));
  }
  EXPECT_EQ(seen_.size(), 8u);
  // The final report always passes, however soon.
  fn(At(a, State::kDone, 100));
  fn(At(b, State::kExists, 100));
  ASSERT_EQ(seen_.size(), 10u);
  EXPECT_EQ(seen_[8].state, State::kDone);
  EXPECT_EQ(seen_[9].state, State::kExists);
}

TEST_F(ThrottledProgressTest, NoInnerFunctionIsFine) {
  ProgressFn fn = ThrottledProgress(ProgressFn(), milliseconds(250));
  fn(At(digest::FromBytes("a"), State::kDone, 1));
  EXPECT_TRUE(IsFinal(State::kMounted));
  EXPECT_FALSE(IsFinal(State::kTransferring));
}

}  // namespace
}  // namespace berth::registry
