#pragma once
// Reading the cloud KMS APIs' JSON answers (AWS, Google, Azure): a body that may not be JSON and
// string members that may be missing. Pure.

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace signer_kms {

// The body parsed into `holder` when it is a JSON object, else nullptr.
inline const boost::json::object* object_of(std::string_view body, boost::json::value& holder) {
  boost::system::error_code ec;
  holder = boost::json::parse(body, ec);
  return ec ? nullptr : holder.if_object();
}

// The string member `key` of `o`, "" when missing or not a string.
inline std::string str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace signer_kms
