#include "net/call.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/url/parse.hpp>

#include <openssl/err.h>

#include <cctype>

namespace chainsd::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string lower_first(std::string s) {
  if (s.size() >= 2 && std::isupper(static_cast<unsigned char>(s[0])) &&
      std::islower(static_cast<unsigned char>(s[1])))
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char ch : s) {
    if (std::isalnum(ch)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(ch)) == std::string_view::npos)
      return false;
  }
  return true;
}

std::string reason(const call& c, boost::system::error_code ec) {
  if (ec == beast::error::timeout)
    return "deadline of " + std::to_string(c.timeout.count()) + " ms exceeded";
  if (ec == asio::error::operation_aborted) return "cancelled";
  if (ec == http::error::body_limit)
    return "response body exceeds max_body of " + std::to_string(c.max_body) + " bytes";
  if (ec == http::error::header_limit) return "response header too large";
  if (ec.category() == asio::error::get_ssl_category()) {
    // Without the "(SSL routines)" library suffix that error_code::message() appends.
    if (const char* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) return r;
  }
  return lower_first(ec.message());
}

void fail(const call& c, std::string_view what, boost::system::error_code ec) {
  throw http_error(c.prefix + ": " + std::string(what) + ": " + reason(c, ec), ec);
}

call parse_call(const request& req) {
  call c;
  c.prefix = req.method + " " + req.url;
  c.timeout = req.timeout;
  c.max_body = req.max_body;
  if (!is_token(req.method)) throw http_error(c.prefix + ": invalid method");
  const std::string method = req.method;
  c.head = method == "HEAD";
  c.idempotent = method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
                 method == "PUT" || method == "DELETE" || req.replayable;

  auto parsed = boost::urls::parse_uri(req.url);
  if (!parsed) throw http_error(c.prefix + ": invalid url: " + parsed.error().message(), parsed.error());
  const auto& u = *parsed;
  const std::string scheme = ascii_lower(u.scheme());
  if (scheme != "http" && scheme != "https")
    throw http_error(c.prefix + ": invalid url: scheme must be http or https");
  c.tls = scheme == "https";
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
      c.host = u.host_ipv4_address().to_string();
      c.host_is_ip = true;
      break;
    case boost::urls::host_type::ipv6:
      c.host = u.host_ipv6_address().to_string();
      c.host_is_ip = true;
      break;
    case boost::urls::host_type::name:
      c.host = ascii_lower(u.host_name());
      break;
    default:
      throw http_error(c.prefix + ": invalid url: missing or unsupported host");
  }
  if (c.host.empty()) throw http_error(c.prefix + ": invalid url: missing host");
  c.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : (c.tls ? "443" : "80");
  c.host_header = std::string(u.encoded_host());
  if (u.has_port() && !u.port().empty()) c.host_header += ":" + std::string(u.port());
  c.target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) c.target += "?" + std::string(u.encoded_query());
  c.key = scheme + "://" + c.host_header;
  if (!u.has_port() || u.port().empty()) c.key += ":" + c.port;
  // Credentials in the URL must not reach error messages (which are logged).
  if (u.has_userinfo()) c.prefix = req.method + " " + scheme + "://" + c.host_header + c.target;
  return c;
}

}  // namespace chainsd::net
