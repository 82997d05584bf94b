#include "base/io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace berth {
namespace {

// A Reader that hands out at most `chunk` bytes per call, to exercise short reads.
class TrickleReader final : public Reader {
 public:
  TrickleReader(std::string data, size_t chunk) : data_(std::move(data)), chunk_(chunk) {}
  Result<size_t> Read(char* buf, size_t size) override {
    size_t n = std::min({size, chunk_, data_.size() - pos_});
    data_.copy(buf, n, pos_);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t chunk_;
  size_t pos_ = 0;
};

class StringReaderAt final : public ReaderAt {
 public:
  explicit StringReaderAt(std::string data) : data_(std::move(data)) {}
  Result<size_t> ReadAt(char* buf, size_t size, uint64_t offset) override {
    if (offset >= data_.size()) {
      return size_t{0};
    }
    return data_.copy(buf, size, offset);
  }
  uint64_t size() const override { return data_.size(); }

 private:
  std::string data_;
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 131) ^ (i >> 7));
  }
  return s;
}

TEST(IoTest, StringReaderReadsInPiecesThenEof) {
  StringReader r("hello world");
  char buf[4];
  std::string got;
  for (;;) {
    Result<size_t> n = r.Read(buf, sizeof(buf));
    ASSERT_TRUE(n.ok());
    if (*n == 0) {
      break;
    }
    EXPECT_LE(*n, sizeof(buf));
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "hello world");
  EXPECT_EQ(*r.Read(buf, sizeof(buf)), 0u);
}

TEST(IoTest, CopyThroughOddBuffer) {
  std::string data = Pattern(100'003);
  TrickleReader src(data, 777);
  StringWriter dst;
  char buf[13];
  Result<uint64_t> n = Copy(dst, src, buf);
  ASSERT_TRUE(n.ok()) << n.error().ToString();
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(dst.data(), data);
}

TEST(IoTest, ReadFullAcrossShortReads) {
  TrickleReader src("abcdefghij", 3);
  char buf[8];
  ASSERT_EQ(*ReadFull(src, buf, sizeof(buf)), 8u);
  EXPECT_EQ(std::string(buf, 8), "abcdefgh");
  ASSERT_EQ(*ReadFull(src, buf, sizeof(buf)), 2u);
  EXPECT_EQ(std::string(buf, 2), "ij");
  ASSERT_EQ(*ReadFull(src, buf, sizeof(buf)), 0u);
}

TEST(IoTest, ReadAllRespectsLimit) {
  StringReader small("0123456789");
  EXPECT_EQ(*ReadAll(small), "0123456789");
  StringReader big(std::string(100, 'x'));
  Result<std::string> r = ReadAll(big, 50);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
}

TEST(IoTest, WriteAfterCloseFails) {
  StringWriter w;
  ASSERT_TRUE(w.Write("a").ok());
  ASSERT_TRUE(w.Close().ok());
  ASSERT_TRUE(w.Close().ok());
  Result<> r = w.Write("b");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(w.data(), "a");
}

TEST(IoTest, FdWriterAndReaderThroughPipe) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  FdReader reader{UniqueFd(fds[0])};
  std::string data = Pattern(10'000);  // Fits the pipe buffer, so one thread suffices.
  {
    FdWriter writer{UniqueFd(fds[1])};
    ASSERT_TRUE(writer.Write(data).ok());
    ASSERT_TRUE(writer.Close().ok());
    EXPECT_FALSE(writer.Write("x").ok());
  }
  Result<std::string> got = ReadAll(reader);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, data);
}

TEST(IoTest, FdReaderReportsErrors) {
  FdReader reader(-1);
  char buf[1];
  Result<size_t> r = reader.Read(buf, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno(), EBADF);
}

TEST(IoTest, BorrowedFdWriterDoesNotClose) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  FdWriter writer(write_end.get());
  ASSERT_TRUE(writer.Write("ab").ok());
  ASSERT_TRUE(writer.Close().ok());
  // The descriptor is still open and writable.
  EXPECT_EQ(::write(write_end.get(), "c", 1), 1);
  char buf[3];
  EXPECT_EQ(::read(read_end.get(), buf, 3), 3);
  EXPECT_EQ(std::string(buf, 3), "abc");
}

TEST(IoTest, SectionReader) {
  StringReaderAt source("0123456789");
  SectionReader section(source, 2, 5);
  EXPECT_EQ(*ReadAll(section), "23456");

  SectionReader past_end(source, 8, 5);
  Result<std::string> r = ReadAll(past_end);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss);
}

TEST(IoTest, DiscardWriterCounts) {
  DiscardWriter w;
  ASSERT_TRUE(w.Write("abc").ok());
  ASSERT_TRUE(w.Write(std::string(1000, 'x')).ok());
  EXPECT_EQ(w.bytes(), 1003u);
}

}  // namespace
}  // namespace berth
