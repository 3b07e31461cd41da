#pragma once
// The client's TLS context: TLS >= 1.2, CA from PEM text and/or a file, else the system paths
// (read once per process and shared), optional client identity, verification on unless
// tls_options::verify is false. Host checks are set per connection (exchange.cpp).

#include "net/http_client.hpp"

#include <boost/asio/ssl/context.hpp>

namespace chainsd::net {

// Throws http_error "tls: ..." naming what could not be loaded (it reads tls.ca_file).
boost::asio::ssl::context make_tls_context(const tls_options& t);

}  // namespace chainsd::net
