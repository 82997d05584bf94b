// Error values for every fallible call in berth.
//
// berth throws nothing: a function that can fail returns Result<T> (see result.h), which holds
// either a value or an Error. Error codes follow the canonical set (the gRPC/abseil codes) so
// that they map one-to-one onto HTTP statuses and OCI registry error codes at the edges.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth {

enum class ErrorCode {
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// Returns the canonical name of `code`, e.g. "NotFound".
std::string_view ErrorCodeName(ErrorCode code);

// A failure: a code, a human message, the errno that caused it (0 if none), and context lines
// added on the way up ("reading Dockerfile", "pulling busybox"), outermost last.
class Error {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0)
      : code_(code), message_(std::move(message)), sys_errno_(sys_errno) {}

  // Factories for the common codes.
  static Error InvalidArgument(std::string message) {
    return {ErrorCode::kInvalidArgument, std::move(message)};
  }
  static Error NotFound(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }
  static Error AlreadyExists(std::string message) {
    return {ErrorCode::kAlreadyExists, std::move(message)};
  }
  static Error PermissionDenied(std::string message) {
    return {ErrorCode::kPermissionDenied, std::move(message)};
  }
  static Error FailedPrecondition(std::string message) {
    return {ErrorCode::kFailedPrecondition, std::move(message)};
  }
  static Error Internal(std::string message) { return {ErrorCode::kInternal, std::move(message)}; }
  static Error Unavailable(std::string message) {
    return {ErrorCode::kUnavailable, std::move(message)};
  }
  static Error Unimplemented(std::string message) {
    return {ErrorCode::kUnimplemented, std::move(message)};
  }
  static Error Cancelled(std::string message) {
    return {ErrorCode::kCancelled, std::move(message)};
  }
  static Error DataLoss(std::string message) { return {ErrorCode::kDataLoss, std::move(message)}; }
  static Error Unauthenticated(std::string message) {
    return {ErrorCode::kUnauthenticated, std::move(message)};
  }
  static Error ResourceExhausted(std::string message) {
    return {ErrorCode::kResourceExhausted, std::move(message)};
  }
  // An error from a failed system call: `what` names the call and its object, e.g.
  // "open /etc/passwd"; the message gets strerror(err) appended.
  static Error FromErrno(std::string what, int err);

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int sys_errno() const { return sys_errno_; }
  const std::vector<std::string>& context() const { return context_; }

  // Adds a context line; returns *this for chaining.
  Error& AddContext(std::string line) & {
    context_.push_back(std::move(line));
    return *this;
  }
  Error&& AddContext(std::string line) && {
    context_.push_back(std::move(line));
    return std::move(*this);
  }

  // "outer: inner: message", the form printed to users after "error: ".
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  int sys_errno_;
  std::vector<std::string> context_;
};

}  // namespace berth
