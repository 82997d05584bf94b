#include "content/store.h"

namespace berth::content {

Result<Digest> WriteBlob(const Context& ctx, Store& store, Reader& src,
                         const WriterOptions& options) {
  Result<std::unique_ptr<Writer>> opened = store.OpenWriter(ctx, options);
  if (!opened.ok()) {
    if (opened.error().code() == ErrorCode::kAlreadyExists && options.expected) {
      return *options.expected;
    }
    return std::move(opened).error();
  }
  std::unique_ptr<Writer> writer = std::move(opened).value();
  BERTH_TRY_CONTEXT(Copy(*writer, src), "writing ingest " + options.ref);
  Result<> committed = writer->Commit(ctx);
  if (!committed.ok() && committed.error().code() != ErrorCode::kAlreadyExists) {
    return std::move(committed).error().AddContext("committing ingest " + options.ref);
  }
  return writer->digest();
}

Result<std::string> ReadBlob(const Context& ctx, Store& store, const Digest& digest, size_t limit) {
  std::unique_ptr<BlobReader> reader = BERTH_TRY(store.OpenReader(ctx, digest));
  if (reader->size() > limit) {
    return Error(ErrorCode::kResourceExhausted, "blob " + digest.ToString() + " is " +
                                                    std::to_string(reader->size()) +
                                                    " bytes, more than " + std::to_string(limit));
  }
  return ReadAll(*reader, limit);
}

}  // namespace berth::content
