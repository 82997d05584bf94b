#include "base/result.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace berth {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) {
    return Error::InvalidArgument("odd: " + std::to_string(x));
  }
  return x / 2;
}

Result<int> Quarter(int x) {
  int h = BERTH_TRY(Half(x));
  return BERTH_TRY_CONTEXT(Half(h), "second halving");
}

Result<> CheckEven(int x) {
  BERTH_TRY(Half(x));
  return {};
}

Result<std::unique_ptr<int>> MoveOnly() {
  return std::make_unique<int>(7);
}

Result<int> UseMoveOnly() {
  std::unique_ptr<int> p = BERTH_TRY(MoveOnly());
  return *p;
}

TEST(ResultTest, ValueAndError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  Result<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(odd.error().ToString(), "second halving: odd: 3");
}

TEST(ResultTest, VoidResult) {
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(5).ok());
}

TEST(ResultTest, MoveOnlyValues) {
  EXPECT_EQ(UseMoveOnly().value(), 7);
}

TEST(ErrorTest, FromErrnoMapsCodes) {
  Error e = Error::FromErrno("open /nope", ENOENT);
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.sys_errno(), ENOENT);
  EXPECT_NE(e.message().find("open /nope: "), std::string::npos);
  EXPECT_EQ(ErrorCodeName(e.code()), "NotFound");
}

}  // namespace
}  // namespace berth
