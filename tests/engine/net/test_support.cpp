#include "test_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <list>
#include <stdexcept>
#include <unistd.h>

namespace chainsd::net::test {
namespace {

namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
const auto use_tuple = asio::as_tuple(asio::use_awaitable);

// --- certificates -------------------------------------------------------------------------

struct pkey_deleter { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct x509_deleter { void operator()(X509* p) const { X509_free(p); } };
struct bio_deleter { void operator()(BIO* p) const { BIO_free(p); } };
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

void check(int ok, const char* what) {
  if (ok != 1) throw std::runtime_error(std::string("test certificate generation failed: ") + what);
}

struct issued {
  pkey_ptr key;
  x509_ptr cert;
};

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (!ext) throw std::runtime_error(std::string("bad test extension ") + value);
  check(X509_add_ext(cert, ext, -1), "add extension");
  X509_EXTENSION_free(ext);
}

// issuer == nullptr: self-signed CA.
issued make_cert(const char* cn, const issued* issuer, bool ca, const char* san, const char* eku) {
  static std::atomic<long> serial{1000};
  issued out;
  out.key.reset(EVP_EC_gen("P-256"));
  if (!out.key) throw std::runtime_error("EVP_EC_gen failed");
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  check(X509_set_version(x, 2), "version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), "serial");
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  check(X509_set_pubkey(x, out.key.get()), "pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0),
        "cn");
  X509* issuer_cert = issuer ? issuer->cert.get() : x;
  check(X509_set_issuer_name(x, X509_get_subject_name(issuer_cert)), "issuer");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer_cert, x, nullptr, nullptr, 0);
  add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, &ctx, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(x, &ctx, NID_subject_key_identifier, "hash");
  if (issuer) add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
  if (eku) add_ext(x, &ctx, NID_ext_key_usage, eku);
  if (san) add_ext(x, &ctx, NID_subject_alt_name, san);
  if (X509_sign(x, issuer ? issuer->key.get() : out.key.get(), EVP_sha256()) <= 0)
    throw std::runtime_error("X509_sign failed");
  return out;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

cert_pair to_pem(const issued& i) {
  cert_pair out;
  bio_ptr cb(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(cb.get(), i.cert.get()), "write cert");
  out.cert_pem = bio_text(cb.get());
  bio_ptr kb(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(kb.get(), i.key.get(), nullptr, nullptr, 0, nullptr, nullptr), "write key");
  out.key_pem = bio_text(kb.get());
  return out;
}

test_certs generate() {
  const auto ca = make_cert("chainsd test CA", nullptr, true, nullptr, nullptr);
  const auto server = make_cert("chainsd test server", &ca, false, "IP:127.0.0.1,DNS:localhost", "serverAuth");
  const auto wrong = make_cert("wrong name", &ca, false, "DNS:example.invalid", "serverAuth");
  const auto client = make_cert("chainsd test client", &ca, false, nullptr, "clientAuth");
  const auto other_ca = make_cert("unrelated CA", nullptr, true, nullptr, nullptr);
  const auto other_server =
      make_cert("chainsd test server", &other_ca, false, "IP:127.0.0.1,DNS:localhost", "serverAuth");
  return {to_pem(ca), to_pem(server), to_pem(wrong), to_pem(client), to_pem(other_ca), to_pem(other_server)};
}

// --- connections --------------------------------------------------------------------------

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

template <class Stream>
class conn_impl final : public test_conn {
 public:
  template <class... Args>
  explicit conn_impl(Args&&... args) : stream_(std::forward<Args>(args)...) {}

  Stream& stream() { return stream_; }

  asio::awaitable<std::optional<raw_request>> read_request() override {
    std::size_t end = 0;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      const bool more = co_await fill();
      if (!more) co_return std::nullopt;
    }
    raw_request req;
    std::string head = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);
    auto line_end = head.find("\r\n");
    const std::string first = head.substr(0, line_end);
    const auto sp1 = first.find(' ');
    const auto sp2 = first.find(' ', sp1 + 1);
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    for (std::size_t pos = line_end + 2; pos < head.size();) {
      const auto eol = head.find("\r\n", pos);
      const std::string line = head.substr(pos, eol - pos);
      const auto colon = line.find(':');
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      req.headers.emplace_back(line.substr(0, colon), value);
      pos = eol + 2;
    }
    const std::string cl = req.header("content-length");
    const std::size_t len = cl.empty() ? 0 : std::stoul(cl);
    while (buffer_.size() < len) {
      const bool more = co_await fill();
      if (!more) co_return std::nullopt;
    }
    req.body = buffer_.substr(0, len);
    buffer_.erase(0, len);
    co_return req;
  }

  asio::awaitable<void> write(std::string bytes) override {
    co_await asio::async_write(stream_, asio::buffer(bytes), use_tuple);
  }

  asio::awaitable<void> wait_closed() override {
    for (;;) {
      const bool more = co_await fill();
      if (!more) break;
      buffer_.clear();
    }
  }

  void close() override {
    error_code ignored;
    lowest().close(ignored);
  }

 private:
  tcp::socket& lowest() {
    if constexpr (std::is_same_v<Stream, tcp::socket>)
      return stream_;
    else
      return stream_.next_layer();
  }

  asio::awaitable<bool> fill() {
    char chunk[4096];
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk), use_tuple);
    if (ec) co_return false;
    buffer_.append(chunk, n);
    co_return true;
  }

  Stream stream_;
  std::string buffer_;
};

using plain_conn = conn_impl<tcp::socket>;
using tls_conn = conn_impl<ssl::stream<tcp::socket>>;

}  // namespace

const test_certs& certs() {
  static const test_certs c = generate();
  return c;
}

std::string write_temp_file(std::string_view name, std::string_view text) {
  static std::atomic<int> counter{0};
  const auto dir = std::filesystem::temp_directory_path() /
                   ("chainsd-net-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  const auto path = dir / std::string(name);
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

std::string raw_request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

std::string http_response(unsigned status, std::string_view body, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\n";
  out += extra_headers;
  out += "\r\n";
  out += body;
  return out;
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_tuple);
}

gate::gate(asio::any_io_executor ex) : timer_(ex, asio::steady_timer::time_point::max()) {}

asio::awaitable<void> gate::wait() {
  if (!open_) co_await timer_.async_wait(use_tuple);
}

void gate::open() {
  open_ = true;
  timer_.cancel();
}

struct test_server::state {
  state(asio::any_io_executor e, conn_handler h) : ex(std::move(e)), handler(std::move(h)), acceptor(ex) {}
  asio::any_io_executor ex;
  conn_handler handler;
  tcp::acceptor acceptor;
  std::optional<ssl::context> tls;
  std::list<std::weak_ptr<test_conn>> conns;
  std::size_t accepted = 0;
  bool stopped = false;
};

namespace {

asio::awaitable<void> serve(std::shared_ptr<test_server::state> st, tcp::socket socket) {
  std::shared_ptr<test_conn> conn;
  if (st->tls) {
    auto c = std::make_shared<tls_conn>(std::move(socket), *st->tls);
    st->conns.push_back(c);
    auto [ec] = co_await c->stream().async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) co_return;  // e.g. the client rejected our certificate
    conn = c;
  } else {
    conn = std::make_shared<plain_conn>(std::move(socket));
    st->conns.push_back(conn);
  }
  co_await st->handler(conn);
}

asio::awaitable<void> accept_loop(std::shared_ptr<test_server::state> st) {
  while (!st->stopped) {
    auto [ec, socket] = co_await st->acceptor.async_accept(use_tuple);
    if (ec || st->stopped) co_return;
    ++st->accepted;
    auto done = [](std::exception_ptr e) {
      if (e) std::fprintf(stderr, "test server connection failed\n");
    };
    asio::co_spawn(st->ex, serve(st, std::move(socket)), done);
  }
}

}  // namespace

test_server::test_server(asio::any_io_executor ex, conn_handler handler, std::optional<server_tls> tls)
    : state_(std::make_shared<state>(std::move(ex), std::move(handler))) {
  if (tls) {
    auto& ctx = state_->tls.emplace(ssl::context::tls_server);
    ctx.use_certificate_chain(asio::buffer(tls->cert_pem));
    ctx.use_private_key(asio::buffer(tls->key_pem), ssl::context::pem);
    if (!tls->client_ca_pem.empty()) {
      ctx.add_certificate_authority(asio::buffer(tls->client_ca_pem));
      ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
  }
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(ep.protocol());
  state_->acceptor.bind(ep);
  state_->acceptor.listen();
  auto done = [](std::exception_ptr e) {
    if (e) std::fprintf(stderr, "test server accept loop failed\n");
  };
  asio::co_spawn(state_->ex, accept_loop(state_), done);
}

test_server::~test_server() { stop(); }

unsigned short test_server::port() const { return state_->acceptor.local_endpoint().port(); }

std::string test_server::url(std::string_view path) const {
  return std::string(state_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + std::string(path);
}

std::size_t test_server::accepted() const { return state_->accepted; }

void test_server::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  error_code ignored;
  state_->acceptor.close(ignored);
  for (auto& weak : state_->conns)
    if (auto c = weak.lock()) c->close();
}

}  // namespace chainsd::net::test
