// Result<T>: a value or an Error, and BERTH_TRY to propagate errors visibly.
//
//   Result<Config> Load(const std::string& path) {
//     std::string text = BERTH_TRY(ReadFile(path));
//     return ParseConfig(text);
//   }
//
// Result<void> is spelt Result<> and returns `{}` (or Ok()) on success.
#pragma once

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/error.h"

namespace berth {

struct Void {};

template <typename T = Void>
class [[nodiscard]] Result {
 public:
  using ValueType = T;

  Result() requires std::is_same_v<T, Void> : storage_(Void{}) {}
  Result(T value) : storage_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : storage_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
           !std::is_same_v<std::decay_t<U>, Error> && !std::is_same_v<std::decay_t<U>, Result>)
      Result(U&& value)
      : storage_(T(std::forward<U>(value))) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return storage_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return std::get<0>(storage_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(storage_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(storage_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // REQUIRES: !ok().
  const Error& error() const& {
    assert(!ok());
    return std::get<1>(storage_);
  }
  Error& error() & {
    assert(!ok());
    return std::get<1>(storage_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(storage_));
  }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> storage_;
};

inline Result<> Ok() {
  return {};
}

namespace internal {
template <typename T>
T TakeValue(Result<T>&& r) {
  return std::move(r).value();
}
inline void TakeValue(Result<Void>&& /*r*/) {}
}  // namespace internal

}  // namespace berth

// Evaluates `expr` (a Result); on error returns the error from the enclosing function,
// otherwise yields the value. Uses a GNU statement expression (g++ and clang).
#define BERTH_TRY(expr)                                         \
  ({                                                            \
    auto berth_try_result_ = (expr);                            \
    if (!berth_try_result_.ok()) {                              \
      return std::move(berth_try_result_).error();              \
    }                                                           \
    ::berth::internal::TakeValue(std::move(berth_try_result_)); \
  })

// Like BERTH_TRY, adding a context line to the error on the way up.
#define BERTH_TRY_CONTEXT(expr, context_line)                               \
  ({                                                                        \
    auto berth_try_result_ = (expr);                                        \
    if (!berth_try_result_.ok()) {                                          \
      return std::move(berth_try_result_).error().AddContext(context_line); \
    }                                                                       \
    ::berth::internal::TakeValue(std::move(berth_try_result_));             \
  })
