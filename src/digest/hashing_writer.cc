#include "digest/hashing_writer.h"

namespace berth::digest {

Result<> HashingWriter::Write(std::string_view data) {
  if (closed_) {
    return Error::FailedPrecondition("write after close");
  }
  if (downstream_ != nullptr) {
    BERTH_TRY(downstream_->Write(data));
  }
  hash_.Update(data);
  return {};
}

Result<> HashingWriter::Close() {
  closed_ = true;
  return {};
}

}  // namespace berth::digest
