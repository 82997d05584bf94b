#include "base/io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace berth {

Result<size_t> FdReader::Read(char* buf, size_t size) {
  for (;;) {
    ssize_t n = ::read(fd_, buf, size);
    if (n >= 0) {
      return static_cast<size_t>(n);
    }
    if (errno != EINTR) {
      return Error::FromErrno("read", errno);
    }
  }
}

Result<> FdWriter::Write(std::string_view data) {
  if (closed_) {
    return Error::FailedPrecondition("write after close");
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::FromErrno("write", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<> FdWriter::Close() {
  if (closed_) {
    return {};
  }
  closed_ = true;
  return owned_.Close();
}

Result<size_t> ViewReader::Read(char* buf, size_t size) {
  size_t n = std::min(size, data_.size());
  if (n > 0) {
    std::memcpy(buf, data_.data(), n);
    data_.remove_prefix(n);
  }
  return n;
}

Result<size_t> StringReader::Read(char* buf, size_t size) {
  size_t n = std::min(size, data_.size() - pos_);
  if (n > 0) {
    std::memcpy(buf, data_.data() + pos_, n);
  }
  pos_ += n;
  return n;
}

Result<> StringWriter::Write(std::string_view data) {
  if (closed_) {
    return Error::FailedPrecondition("write after close");
  }
  data_.append(data);
  return {};
}

Result<> StringWriter::Close() {
  closed_ = true;
  return {};
}

Result<> DiscardWriter::Write(std::string_view data) {
  bytes_ += data.size();
  return {};
}

Result<size_t> SectionReader::Read(char* buf, size_t size) {
  if (pos_ >= end_) {
    return size_t{0};
  }
  size = static_cast<size_t>(std::min<uint64_t>(size, end_ - pos_));
  size_t n = BERTH_TRY(source_.ReadAt(buf, size, pos_));
  if (n == 0 && size > 0) {
    return Error::DataLoss("section ends early: source has fewer bytes than the section");
  }
  pos_ += n;
  return n;
}

Result<uint64_t> Copy(Writer& dst, Reader& src, std::span<char> buf) {
  assert(!buf.empty());
  uint64_t total = 0;
  for (;;) {
    size_t n = BERTH_TRY(src.Read(buf.data(), buf.size()));
    if (n == 0) {
      return total;
    }
    BERTH_TRY(dst.Write(std::string_view(buf.data(), n)));
    total += n;
  }
}

Result<uint64_t> Copy(Writer& dst, Reader& src) {
  std::vector<char> buf(kDefaultBufferSize);
  return Copy(dst, src, buf);
}

Result<size_t> ReadFull(Reader& src, char* buf, size_t size) {
  size_t got = 0;
  while (got < size) {
    size_t n = BERTH_TRY(src.Read(buf + got, size - got));
    if (n == 0) {
      break;
    }
    got += n;
  }
  return got;
}

Result<std::string> ReadAll(Reader& src, size_t limit) {
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    size_t n = BERTH_TRY(src.Read(buf, sizeof(buf)));
    if (n == 0) {
      return out;
    }
    if (out.size() + n > limit) {
      return Error(ErrorCode::kResourceExhausted,
                   "stream longer than " + std::to_string(limit) + " bytes");
    }
    out.append(buf, n);
  }
}

}  // namespace berth
