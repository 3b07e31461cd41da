#include "net/http_client.hpp"

#include "net/call.hpp"
#include "net/exchange.hpp"
#include "net/tls_context.hpp"

#include <boost/beast/core/error.hpp>

#include <cctype>

namespace chainsd::net {

std::string_view response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

bool http_error::timed_out() const noexcept { return ec_ == boost::beast::error::timeout; }

std::string url_encode_component(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

client_state::client_state(boost::asio::any_io_executor e, client_options o)
    : ex(std::move(e)),
      opts(std::move(o)),
      tls_ctx(make_tls_context(opts.tls)),
      pool(opts.max_idle_per_host, opts.idle_keepalive) {}

struct http_client::impl {
  std::shared_ptr<client_state> state;
};

http_client::http_client(boost::asio::any_io_executor ex) : http_client(std::move(ex), client_options()) {}

http_client::http_client(boost::asio::any_io_executor ex, client_options opts)
    : impl_(std::make_unique<impl>()) {
  impl_->state = std::make_shared<client_state>(std::move(ex), std::move(opts));
}

http_client::~http_client() { impl_->state->pool.close(); }

boost::asio::awaitable<response> http_client::send(request req) {
  return send_request(impl_->state, std::move(req));
}

boost::asio::awaitable<std::unique_ptr<response_stream>> http_client::open_stream(request req) {
  return open_response_stream(impl_->state, std::move(req));
}

boost::asio::awaitable<std::unique_ptr<byte_stream>> http_client::connect_stream(std::string host, std::uint16_t port,
                                                                                 bool tls,
                                                                                 std::chrono::milliseconds timeout) {
  return open_byte_stream(impl_->state, std::move(host), port, tls, timeout);
}

void http_client::clear_pool() { impl_->state->pool.clear(); }

std::size_t http_client::idle_connections() const { return impl_->state->pool.idle_count(); }

std::size_t http_client::connections_opened() const { return impl_->state->opened; }

boost::asio::any_io_executor http_client::get_executor() const { return impl_->state->ex; }

}  // namespace chainsd::net
