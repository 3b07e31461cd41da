#pragma once
// Classified errors at the plugin boundary. The engine decides what to do from the class alone:
// retryable → retry the run with backoff; permanent → mark the run failed with the message;
// not_found / unauthenticated → as permanent unless the engine knows better; bad_config →
// the config snapshot that built the plugin is at fault (reported with the config key).

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <string>
#include <type_traits>
#include <utility>

namespace chainsd::plugin {

enum class errc {
  retryable = 1,
  permanent,
  not_found,
  unauthenticated,
  bad_config,
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// An error class plus a human-readable message (what to fix, naming objects and config keys).
struct error {
  errc code = errc::permanent;
  std::string message;
};

template <class T>
using result = boost::system::result<T, error>;

inline error fail(errc code, std::string message) { return error{code, std::move(message)}; }

// Found by ADL when result<T>::value() is called on an error.
[[noreturn]] inline void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw boost::system::system_error(make_error_code(e.code), e.message);
}

// The name of an error class as it appears in logs and metric labels ("retryable", ...).
const char* to_string(errc e) noexcept;

namespace detail {
class category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "chainsd.plugin"; }
  std::string message(int ev) const override { return to_string(static_cast<errc>(ev)); }
};
}  // namespace detail

inline const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::retryable: return "retryable";
    case errc::permanent: return "permanent";
    case errc::not_found: return "not_found";
    case errc::unauthenticated: return "unauthenticated";
    case errc::bad_config: return "bad_config";
  }
  return "unknown";
}

inline const boost::system::error_category& error_category() noexcept {
  static const detail::category_impl cat;
  return cat;
}

}  // namespace chainsd::plugin

namespace boost::system {
template <>
struct is_error_code_enum<chainsd::plugin::errc> : std::true_type {};
}  // namespace boost::system
