#pragma once
// One call as the exchange sees it: where the request goes (parsed and checked once), and how its
// failures read ("GET https://host/path: <what failed>: <reason>"). No Asio/Beast templates here.

#include "net/http_client.hpp"

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace chainsd::net {

struct call {
  std::string prefix;       // "GET https://host:port/path", without URL credentials
  std::chrono::milliseconds timeout{};
  std::size_t max_body = 0;
  bool tls = false;
  bool host_is_ip = false;
  bool idempotent = false;  // may be replayed after a reused connection failed (or req.replayable)
  bool head = false;
  std::string host;         // without IPv6 brackets: for resolve, SNI and verification
  std::string port;
  std::string host_header;  // as written in the URL (brackets, explicit port)
  std::string target;       // origin-form path?query
  std::string key;          // pool key: scheme://host:port
};

// Throws http_error "<METHOD> <url>: invalid method|invalid url: ...".
call parse_call(const request& req);

// The reason part of a failure message: "deadline of 2000 ms exceeded", "cancelled", OpenSSL's
// reason without its library suffix, else the error's message with a lower-case first letter.
std::string reason(const call& c, boost::system::error_code ec);
[[noreturn]] void fail(const call& c, std::string_view what, boost::system::error_code ec);

// RFC 9110 token (methods, header names).
bool is_token(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
std::string ascii_lower(std::string_view s);

}  // namespace chainsd::net
