#include "archive/export.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "digest/hashing_writer.h"

namespace berth::archive {
namespace {

struct Buffer {
  std::vector<char> data;
  size_t len = 0;
};

// Buffers cycling between one producer and one consumer: the producer takes a free buffer,
// fills it and queues it; the consumer takes queued buffers in order and frees them. Either side
// can fail the queue, which wakes the other; the first error is kept. Thread-safe.
class BufferQueue {
 public:
  BufferQueue(size_t count, size_t size) : buffers_(std::max<size_t>(count, 2)) {
    for (Buffer& b : buffers_) {
      b.data.resize(std::max<size_t>(size, 4096));
      free_.push_back(&b);
    }
  }

  // Producer: a free buffer (len 0), waiting for one if needed.
  Result<Buffer*> AcquireFree() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return error_ || !free_.empty(); });
    if (error_) {
      return Error(ErrorCode::kAborted, "layer export stopped: " + error_->message());
    }
    Buffer* b = free_.front();
    free_.pop_front();
    b->len = 0;
    return b;
  }

  // Producer: queues a filled buffer.
  void Push(Buffer* b) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      full_.push_back(b);
    }
    cv_.notify_all();
  }

  // Producer: no more buffers will come.
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    cv_.notify_all();
  }

  // Consumer: the next filled buffer, or nullptr once the producer finished and all were taken.
  Result<Buffer*> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return error_ || finished_ || !full_.empty(); });
    if (error_) {
      return Error(ErrorCode::kAborted, "layer export stopped: " + error_->message());
    }
    if (full_.empty()) {
      return nullptr;
    }
    Buffer* b = full_.front();
    full_.pop_front();
    return b;
  }

  // Consumer: returns a buffer taken with Pop().
  void Release(Buffer* b) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back(b);
    }
    cv_.notify_all();
  }

  // Either side: stops the pipeline. The first error wins.
  void Fail(const Error& e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) {
        error_ = e;
      }
    }
    cv_.notify_all();
  }

  std::optional<Error> error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  std::vector<Buffer> buffers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Buffer*> free_;
  std::deque<Buffer*> full_;
  bool finished_ = false;
  std::optional<Error> error_;
};

// The producer's end of the queue as a Writer: copies into the current buffer, queueing each one
// as it fills. Close() queues the last partial buffer and finishes the queue.
class QueueWriter final : public Writer {
 public:
  explicit QueueWriter(BufferQueue& queue) : queue_(queue) {}

  Result<> Write(std::string_view data) override {
    if (closed_) {
      return Error::FailedPrecondition("write after close");
    }
    while (!data.empty()) {
      if (current_ == nullptr) {
        current_ = BERTH_TRY(queue_.AcquireFree());
      }
      size_t n = std::min(data.size(), current_->data.size() - current_->len);
      std::memcpy(current_->data.data() + current_->len, data.data(), n);
      current_->len += n;
      data.remove_prefix(n);
      if (current_->len == current_->data.size()) {
        queue_.Push(std::exchange(current_, nullptr));
      }
    }
    return {};
  }

  Result<> Close() override {
    if (!closed_) {
      closed_ = true;
      if (current_ != nullptr && current_->len > 0) {
        queue_.Push(std::exchange(current_, nullptr));
      }
      queue_.Finish();
    }
    return {};
  }

 private:
  BufferQueue& queue_;
  Buffer* current_ = nullptr;
  bool closed_ = false;
};

// The consumer: drains the queue into `compressor` and closes it at the end of the stream.
Result<> Drain(BufferQueue& queue, Writer& compressor) {
  for (;;) {
    Buffer* b = BERTH_TRY(queue.Pop());
    if (b == nullptr) {
      break;
    }
    Result<> r = compressor.Write(std::string_view(b->data.data(), b->len));
    queue.Release(b);
    BERTH_TRY(r);
  }
  return compressor.Close();
}

}  // namespace

Result<ExportedLayer> ExportLayer(const Context& ctx, const std::string& dir, Writer& sink,
                                  const ExportOptions& options) {
  digest::HashingWriter blob_hash(sink);
  std::unique_ptr<Writer> compressor =
      BERTH_TRY(compress::NewWriter(options.compression, blob_hash, options.compression_options));
  BufferQueue queue(options.queue_buffers, options.buffer_size);

  std::thread consumer;
  try {
    consumer = std::thread([&queue, &compressor] {
      Result<> r = Drain(queue, *compressor);
      if (!r.ok()) {
        queue.Fail(r.error().AddContext("compressing the layer"));
      }
    });
  } catch (const std::system_error& e) {
    return Error(ErrorCode::kResourceExhausted,
                 std::string("starting the compression thread: ") + e.what());
  }

  QueueWriter to_queue(queue);
  digest::HashingWriter diff_hash(to_queue);
  Result<TarStats> tar = WriteLayerTar(ctx, dir, diff_hash, options.tar);
  if (tar.ok()) {
    (void)to_queue.Close();  // cannot fail; a consumer failure shows in queue.error()
  } else {
    queue.Fail(tar.error());
  }
  consumer.join();
  // The first failure is the cause; the other side's error only says it was stopped.
  if (std::optional<Error> e = queue.error()) {
    return std::move(*e).AddContext("exporting layer " + dir);
  }

  ExportedLayer out;
  out.diff_id = diff_hash.digest();
  out.blob_digest = blob_hash.digest();
  out.uncompressed_size = diff_hash.bytes();
  out.compressed_size = blob_hash.bytes();
  out.tar = *tar;
  return out;
}

}  // namespace berth::archive
