#include "compress/compress.h"

#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <isa-l/igzip_lib.h>

namespace berth::compress {
namespace {

constexpr size_t kMaxCodecChunk = 1u << 30;  // ISA-L counts in uint32_t.

uint32_t Clamp32(size_t n) {
  return static_cast<uint32_t>(std::min(n, kMaxCodecChunk));
}

// ---------------------------------------------------------------------------------------------
// Writers

// Collects codec output in one reused buffer and hands it downstream in large pieces, so the
// downstream (hashing, a file, a socket) sees few, big writes.
class OutputBuffer {
 public:
  explicit OutputBuffer(Writer& downstream) : downstream_(downstream), buf_(kDefaultBufferSize) {}

  uint8_t* next() { return buf_.data() + used_; }
  size_t room() const { return buf_.size() - used_; }
  void Produced(size_t n) { used_ += n; }

  // Writes the buffer downstream once it is full.
  Result<> FlushIfFull() {
    if (room() == 0) {
      return Flush();
    }
    return {};
  }
  Result<> Flush() {
    if (used_ > 0) {
      BERTH_TRY(
          downstream_.Write(std::string_view(reinterpret_cast<const char*>(buf_.data()), used_)));
      used_ = 0;
    }
    return {};
  }

 private:
  Writer& downstream_;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
};

class PassWriter final : public Writer {
 public:
  explicit PassWriter(Writer& downstream) : downstream_(downstream) {}
  Result<> Write(std::string_view data) override {
    if (closed_) {
      return Error::FailedPrecondition("write after close");
    }
    return downstream_.Write(data);
  }
  Result<> Close() override {
    closed_ = true;
    return {};
  }

 private:
  Writer& downstream_;
  bool closed_ = false;
};

class GzipWriter final : public Writer {
 public:
  GzipWriter(Writer& downstream, uint32_t isal_level) : out_(downstream) {
    stream_ = std::make_unique<isal_zstream>();
    isal_deflate_init(stream_.get());
    stream_->level = isal_level;
    stream_->gzip_flag = IGZIP_GZIP;
    size_t level_buf_size = 0;
    switch (isal_level) {
      case 1:
        level_buf_size = ISAL_DEF_LVL1_DEFAULT;
        break;
      case 2:
        level_buf_size = ISAL_DEF_LVL2_DEFAULT;
        break;
      case 3:
        level_buf_size = ISAL_DEF_LVL3_DEFAULT;
        break;
      default:
        break;
    }
    level_buf_.resize(level_buf_size);
    stream_->level_buf = level_buf_.empty() ? nullptr : level_buf_.data();
    stream_->level_buf_size = static_cast<uint32_t>(level_buf_.size());
  }

  Result<> Write(std::string_view data) override {
    if (closed_) {
      return Error::FailedPrecondition("write after close");
    }
    while (!data.empty()) {
      uint32_t chunk = Clamp32(data.size());
      // isal_deflate never writes through next_in; the cast only satisfies its C signature.
      stream_->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(data.data()));
      stream_->avail_in = chunk;
      while (stream_->avail_in > 0) {
        BERTH_TRY(Deflate());
      }
      data.remove_prefix(chunk);
    }
    return {};
  }

  Result<> Close() override {
    if (closed_) {
      return {};
    }
    closed_ = true;
    stream_->next_in = nullptr;
    stream_->avail_in = 0;
    stream_->end_of_stream = 1;
    while (stream_->internal_state.state != ZSTATE_END) {
      BERTH_TRY(Deflate());
    }
    return out_.Flush();
  }

 private:
  Result<> Deflate() {
    stream_->next_out = out_.next();
    stream_->avail_out = Clamp32(out_.room());
    uint32_t before = stream_->avail_out;
    int ret = isal_deflate(stream_.get());
    out_.Produced(before - stream_->avail_out);
    if (ret != COMP_OK) {
      return Error::Internal("igzip deflate failed with code " + std::to_string(ret));
    }
    return out_.FlushIfFull();
  }

  OutputBuffer out_;
  std::unique_ptr<isal_zstream> stream_;  // Over 100 KiB of state: keep it off the stack.
  std::vector<uint8_t> level_buf_;
  bool closed_ = false;
};

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

class ZstdWriter final : public Writer {
 public:
  static Result<std::unique_ptr<Writer>> Create(Writer& downstream, int level, int threads) {
    std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx(ZSTD_createCCtx());
    if (cctx == nullptr) {
      return Error::Internal("ZSTD_createCCtx failed");
    }
    BERTH_TRY(Check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level),
                    "setting zstd level " + std::to_string(level)));
    // Frames carry a content checksum, as the zstd CLI writes them by default.
    BERTH_TRY(Check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1),
                    "enabling zstd checksums"));
    if (threads > 0) {
      // A libzstd built without threads refuses; its output is the same format, only slower.
      (void)ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, threads);
    }
    return std::unique_ptr<Writer>(new ZstdWriter(downstream, std::move(cctx)));
  }

  Result<> Write(std::string_view data) override {
    if (closed_) {
      return Error::FailedPrecondition("write after close");
    }
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (in.pos < in.size) {
      BERTH_TRY(Compress(&in, ZSTD_e_continue));
    }
    return {};
  }

  Result<> Close() override {
    if (closed_) {
      return {};
    }
    closed_ = true;
    ZSTD_inBuffer in{nullptr, 0, 0};
    for (;;) {
      size_t remaining = BERTH_TRY(Compress(&in, ZSTD_e_end));
      if (remaining == 0) {
        break;
      }
    }
    return out_.Flush();
  }

 private:
  ZstdWriter(Writer& downstream, std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx)
      : out_(downstream), cctx_(std::move(cctx)) {}

  static Result<size_t> Check(size_t code, const std::string& what) {
    if (ZSTD_isError(code)) {
      return Error::InvalidArgument(what + ": " + ZSTD_getErrorName(code));
    }
    return code;
  }

  Result<size_t> Compress(ZSTD_inBuffer* in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer out{out_.next(), out_.room(), 0};
    size_t ret = ZSTD_compressStream2(cctx_.get(), &out, in, mode);
    out_.Produced(out.pos);
    if (ZSTD_isError(ret)) {
      return Error::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(ret));
    }
    BERTH_TRY(out_.FlushIfFull());
    return ret;
  }

  OutputBuffer out_;
  std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> cctx_;
  bool closed_ = false;
};

// ---------------------------------------------------------------------------------------------
// Readers

// Input staged from the upstream Reader in one reused buffer. The first kHeadroom bytes stay
// free so that bytes a decoder read ahead can be pushed back in front of the read position.
class InputBuffer {
 public:
  static constexpr size_t kHeadroom = 16;

  explicit InputBuffer(Reader& upstream)
      : upstream_(upstream), buf_(kHeadroom + kDefaultBufferSize) {}

  uint8_t* data() { return buf_.data() + pos_; }
  size_t avail() const { return end_ - pos_; }
  void Consume(size_t n) { pos_ += n; }

  // Moves unread bytes to the front and reads once more from upstream. Returns the number of
  // bytes read, 0 at the end of the upstream.
  Result<size_t> Fill() {
    if (eof_) {
      return size_t{0};
    }
    size_t unread = avail();
    std::memmove(buf_.data() + kHeadroom, buf_.data() + pos_, unread);
    pos_ = kHeadroom;
    end_ = kHeadroom + unread;
    if (end_ == buf_.size()) {
      return Error::Internal("input buffer full");  // Callers drain before refilling.
    }
    size_t n =
        BERTH_TRY(upstream_.Read(reinterpret_cast<char*>(buf_.data() + end_), buf_.size() - end_));
    if (n == 0) {
      eof_ = true;
    }
    end_ += n;
    return n;
  }

  // Makes at least `n` bytes available; false if the upstream ends first.
  // REQUIRES: n <= kDefaultBufferSize.
  Result<bool> Ensure(size_t n) {
    while (avail() < n) {
      if (BERTH_TRY(Fill()) == 0) {
        return false;
      }
    }
    return true;
  }

  // Puts `n` bytes back in front of the read position.
  // REQUIRES: n <= kHeadroom (the position never drops below kHeadroom after a Fill()).
  void Unread(const uint8_t* bytes, size_t n) {
    assert(n <= pos_);
    pos_ -= n;
    std::memcpy(buf_.data() + pos_, bytes, n);
  }

  // Reads the next byte; false at the end of the upstream.
  Result<bool> Next(uint8_t* byte) {
    if (!BERTH_TRY(Ensure(1))) {
      return false;
    }
    *byte = buf_[pos_++];
    return true;
  }

 private:
  Reader& upstream_;
  std::vector<uint8_t> buf_;
  size_t pos_ = kHeadroom;
  size_t end_ = kHeadroom;
  bool eof_ = false;
};

Error Truncated(std::string_view what) {
  return Error::DataLoss(std::string(what) + ": unexpected end of input (truncated stream)");
}

class PassReader final : public DecompressingReader {
 public:
  PassReader(Reader& upstream, std::unique_ptr<InputBuffer> in)
      : upstream_(upstream), in_(std::move(in)) {}
  Format format() const override { return Format::kNone; }

  Result<size_t> Read(char* buf, size_t size) override {
    if (in_ != nullptr) {
      size_t n = std::min(size, in_->avail());
      std::memcpy(buf, in_->data(), n);
      in_->Consume(n);
      if (in_->avail() == 0) {
        in_.reset();  // Drained: from now on read the upstream directly.
      }
      if (n > 0 || size == 0) {
        return n;
      }
    }
    return upstream_.Read(buf, size);
  }

 private:
  Reader& upstream_;
  std::unique_ptr<InputBuffer> in_;
};

const char* InflateErrorName(int code) {
  switch (code) {
    case ISAL_INVALID_BLOCK:
      return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "invalid lookback distance";
    case ISAL_INVALID_WRAPPER:
      return "invalid wrapper";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported method";
    case ISAL_INCORRECT_CHECKSUM:
      return "incorrect checksum";
    case ISAL_NEED_DICT:
      return "needs a preset dictionary";
    default:
      return "unknown inflate error";
  }
}

// gzip (RFC 1952) through ISA-L's inflate. We parse member headers and trailers ourselves and
// let ISA-L inflate the raw deflate data computing the CRC-32, so that we know exactly where a
// member ends and can go on with the next one (multi-member files, as `cat a.gz b.gz` makes).
class GzipReader final : public DecompressingReader {
 public:
  explicit GzipReader(std::unique_ptr<InputBuffer> in)
      : in_(std::move(in)), state_(std::make_unique<inflate_state>()) {}
  Format format() const override { return Format::kGzip; }

  Result<size_t> Read(char* buf, size_t size) override {
    if (size == 0) {
      return size_t{0};
    }
    size_t produced = 0;
    for (;;) {
      switch (phase_) {
        case Phase::kHeader:
          BERTH_TRY(ReadHeader());
          isal_inflate_init(state_.get());
          state_->crc_flag = ISAL_GZIP_NO_HDR;  // Raw deflate, CRC-32 of the output in crc.
          member_size_ = 0;
          phase_ = Phase::kBody;
          break;
        case Phase::kBody: {
          bool finished = BERTH_TRY(Inflate(buf, size, &produced));
          if (finished) {
            phase_ = Phase::kTrailer;
          }
          if (produced > 0) {
            return produced;
          }
          break;
        }
        case Phase::kTrailer:
          BERTH_TRY(ReadTrailer());
          phase_ = Phase::kBetweenMembers;
          break;
        case Phase::kBetweenMembers:
          phase_ = BERTH_TRY(NextMember());
          break;
        case Phase::kDone:
          return produced;
      }
    }
  }

 private:
  enum class Phase { kHeader, kBody, kTrailer, kBetweenMembers, kDone };

  // Runs inflate once into buf[*produced, size); returns true once the member's deflate data
  // has ended.
  Result<bool> Inflate(char* buf, size_t size, size_t* produced) {
    inflate_state& st = *state_;
    st.next_out = reinterpret_cast<uint8_t*>(buf + *produced);
    st.avail_out = Clamp32(size - *produced);
    st.next_in = in_->data();
    st.avail_in = Clamp32(in_->avail());
    uint8_t* in_start = st.next_in;
    uint8_t* out_start = st.next_out;
    int ret = isal_inflate(&st);
    auto consumed = static_cast<size_t>(st.next_in - in_start);
    auto out = static_cast<size_t>(st.next_out - out_start);
    in_->Consume(consumed);
    *produced += out;
    member_size_ += out;
    if (ret < 0) {
      return Error::DataLoss(std::string("gzip: corrupt data: ") + InflateErrorName(ret));
    }
    if (st.block_state == ISAL_BLOCK_FINISH) {
      // ISA-L reads ahead up to 8 bytes into its bit buffer; whole bytes left there belong to
      // the trailer (and maybe the next member): put them back.
      if (st.read_in_length > 0) {
        size_t n = static_cast<size_t>(st.read_in_length) / 8;
        uint64_t bits = st.read_in >> (st.read_in_length % 8);
        uint8_t bytes[8];
        for (size_t i = 0; i < n; ++i) {
          bytes[i] = static_cast<uint8_t>(bits >> (8 * i));
        }
        in_->Unread(bytes, n);
      }
      return true;
    }
    if (consumed == 0 && out == 0) {
      if (in_->avail() > 0) {
        return Error::DataLoss("gzip: decoder made no progress on its input");
      }
      if (BERTH_TRY(in_->Fill()) == 0) {
        return Truncated("gzip");
      }
    }
    return false;
  }

  Result<> ReadHeader() {
    if (!BERTH_TRY(in_->Ensure(10))) {
      return Truncated("gzip header");
    }
    const uint8_t* h = in_->data();
    if (h[0] != 0x1f || h[1] != 0x8b) {
      return Error::DataLoss("gzip: bad magic in member header");
    }
    if (h[2] != 8) {
      return Error::DataLoss("gzip: unsupported compression method " + std::to_string(h[2]));
    }
    uint8_t flags = h[3];
    if ((flags & 0xe0) != 0) {
      return Error::DataLoss("gzip: reserved header flags set");
    }
    in_->Consume(10);
    if ((flags & 0x04) != 0) {  // FEXTRA
      if (!BERTH_TRY(in_->Ensure(2))) {
        return Truncated("gzip header");
      }
      size_t xlen = in_->data()[0] | (static_cast<size_t>(in_->data()[1]) << 8);
      in_->Consume(2);
      BERTH_TRY(Skip(xlen));
    }
    if ((flags & 0x08) != 0) {  // FNAME
      BERTH_TRY(SkipCString());
    }
    if ((flags & 0x10) != 0) {  // FCOMMENT
      BERTH_TRY(SkipCString());
    }
    if ((flags & 0x02) != 0) {  // FHCRC
      BERTH_TRY(Skip(2));
    }
    return {};
  }

  Result<> ReadTrailer() {
    if (!BERTH_TRY(in_->Ensure(8))) {
      return Truncated("gzip trailer");
    }
    const uint8_t* t = in_->data();
    uint32_t crc = Le32(t);
    uint32_t isize = Le32(t + 4);
    in_->Consume(8);
    if (crc != state_->crc) {
      return Error::DataLoss("gzip: CRC-32 mismatch (corrupt data)");
    }
    if (isize != static_cast<uint32_t>(member_size_)) {
      return Error::DataLoss("gzip: length mismatch (corrupt data)");
    }
    return {};
  }

  // After a member: another member, the end, or zero padding up to the end (which gzip(1)
  // accepts too). Anything else is corrupt.
  Result<Phase> NextMember() {
    uint8_t byte = 0;
    if (!BERTH_TRY(in_->Next(&byte))) {
      return Phase::kDone;
    }
    if (byte == 0x1f) {
      in_->Unread(&byte, 1);
      return Phase::kHeader;
    }
    while (byte == 0) {
      if (!BERTH_TRY(in_->Next(&byte))) {
        return Phase::kDone;
      }
    }
    return Error::DataLoss("gzip: trailing garbage after the compressed data");
  }

  Result<> Skip(size_t n) {
    while (n > 0) {
      if (in_->avail() == 0 && BERTH_TRY(in_->Fill()) == 0) {
        return Truncated("gzip header");
      }
      size_t k = std::min(n, in_->avail());
      in_->Consume(k);
      n -= k;
    }
    return {};
  }

  Result<> SkipCString() {
    for (;;) {
      uint8_t byte = 0;
      if (!BERTH_TRY(in_->Next(&byte))) {
        return Truncated("gzip header");
      }
      if (byte == 0) {
        return {};
      }
    }
  }

  static uint32_t Le32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
  }

  std::unique_ptr<InputBuffer> in_;
  std::unique_ptr<inflate_state> state_;  // Large tables and window: keep it off the stack.
  Phase phase_ = Phase::kHeader;
  uint64_t member_size_ = 0;
};

struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

class ZstdReader final : public DecompressingReader {
 public:
  ZstdReader(std::unique_ptr<InputBuffer> in, std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx)
      : in_(std::move(in)), dctx_(std::move(dctx)) {}
  Format format() const override { return Format::kZstd; }

  Result<size_t> Read(char* buf, size_t size) override {
    if (size == 0) {
      return size_t{0};
    }
    for (;;) {
      ZSTD_outBuffer out{buf, size, 0};
      ZSTD_inBuffer in{in_->data(), in_->avail(), 0};
      size_t ret = ZSTD_decompressStream(dctx_.get(), &out, &in);
      in_->Consume(in.pos);
      if (ZSTD_isError(ret)) {
        return Error::DataLoss(std::string("zstd: corrupt data: ") + ZSTD_getErrorName(ret));
      }
      // 0 means a frame ended and everything it decoded has been handed out. A call that moved
      // nothing (at the end of the input) says nothing new: it returns the next header's size.
      if (in.pos > 0 || out.pos > 0) {
        frame_complete_ = ret == 0;
      }
      if (out.pos > 0) {
        return out.pos;
      }
      if (in_->avail() == 0) {
        if (BERTH_TRY(in_->Fill()) == 0) {
          if (frame_complete_) {
            return size_t{0};
          }
          return Truncated("zstd");
        }
      } else if (in.pos == 0) {
        return Error::DataLoss("zstd: decoder made no progress on its input");
      }
    }
  }

 private:
  std::unique_ptr<InputBuffer> in_;
  std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx_;
  bool frame_complete_ = false;
};

}  // namespace

Result<Format> ParseFormat(std::string_view name) {
  if (name == "gzip") {
    return Format::kGzip;
  }
  if (name == "zstd") {
    return Format::kZstd;
  }
  if (name == "uncompressed" || name == "none") {
    return Format::kNone;
  }
  return Error::InvalidArgument("unknown compression \"" + std::string(name) +
                                "\": want gzip, zstd or uncompressed");
}

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kNone:
      return "uncompressed";
    case Format::kGzip:
      return "gzip";
    case Format::kZstd:
      return "zstd";
  }
  return "uncompressed";
}

Format DetectFormat(std::string_view prefix) {
  auto byte = [&](size_t i) {
    return static_cast<uint8_t>(prefix[i]);
  };
  if (prefix.size() >= 2 && byte(0) == 0x1f && byte(1) == 0x8b) {
    return Format::kGzip;
  }
  if (prefix.size() >= 4) {
    uint32_t magic =
        byte(0) | (byte(1) << 8) | (byte(2) << 16) | (static_cast<uint32_t>(byte(3)) << 24);
    if (magic == ZSTD_MAGICNUMBER ||
        (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START) {
      return Format::kZstd;
    }
  }
  return Format::kNone;
}

Result<std::unique_ptr<Writer>> NewWriter(Format format, Writer& downstream,
                                          const WriterOptions& options) {
  switch (format) {
    case Format::kNone:
      return std::unique_ptr<Writer>(new PassWriter(downstream));
    case Format::kGzip: {
      int level = options.level == WriterOptions::kDefaultLevel ? 1 : options.level;
      if (level < 0 || level > 9) {
        return Error::InvalidArgument("gzip level " + std::to_string(level) + " out of range 0-9");
      }
      uint32_t isal_level = level <= 1 ? static_cast<uint32_t>(level) : level <= 5 ? 2 : 3;
      return std::unique_ptr<Writer>(new GzipWriter(downstream, isal_level));
    }
    case Format::kZstd: {
      int level = options.level == WriterOptions::kDefaultLevel ? 1 : options.level;
      if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
        return Error::InvalidArgument("zstd level " + std::to_string(level) + " out of range " +
                                      std::to_string(ZSTD_minCLevel()) + " to " +
                                      std::to_string(ZSTD_maxCLevel()));
      }
      if (options.threads < 0) {
        return Error::InvalidArgument("zstd threads must be >= 0");
      }
      return ZstdWriter::Create(downstream, level, options.threads);
    }
  }
  return Error::InvalidArgument("unknown compression format");
}

Result<std::unique_ptr<DecompressingReader>> NewReader(Reader& upstream) {
  auto in = std::make_unique<InputBuffer>(upstream);
  (void)BERTH_TRY(in->Ensure(4));  // Fewer bytes are fine: such input is simply not compressed.
  Format format =
      DetectFormat(std::string_view(reinterpret_cast<const char*>(in->data()), in->avail()));
  switch (format) {
    case Format::kGzip:
      return std::unique_ptr<DecompressingReader>(new GzipReader(std::move(in)));
    case Format::kZstd: {
      std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> dctx(ZSTD_createDCtx());
      if (dctx == nullptr) {
        return Error::Internal("ZSTD_createDCtx failed");
      }
      return std::unique_ptr<DecompressingReader>(new ZstdReader(std::move(in), std::move(dctx)));
    }
    case Format::kNone:
      break;
  }
  return std::unique_ptr<DecompressingReader>(new PassReader(upstream, std::move(in)));
}

}  // namespace berth::compress
