#pragma once
// A TCP proxy on 127.0.0.1 in front of one upstream, for partition tests: while black-holed,
// every open connection is cut and new ones are accepted but never answered (bytes read and
// dropped), so the client sees requests hang until its own deadline, as behind a network
// partition. Runs on the test's io_context; stop() ends it.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

namespace chainsd::ha::test {

class blackhole_proxy {
 public:
  using tcp = boost::asio::ip::tcp;

  blackhole_proxy(boost::asio::any_io_executor ex, std::uint16_t upstream_port)
      : ex_(ex), acceptor_(ex, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)), upstream_port_(upstream_port) {
    auto accept = [this]() { return accept_loop(); };
    boost::asio::co_spawn(ex_, accept, boost::asio::detached);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }

  void black_hole(bool on) {
    black_hole_ = on;
    // Cut what is open: in a partition the client's connections die or hang; either way nothing
    // already in flight gets an answer.
    for (auto& c : conns_) c->close();
    conns_.clear();
  }
  bool black_holed() const { return black_hole_; }
  std::size_t accepted() const { return accepted_; }

  void stop() {
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    black_hole(black_hole_);
  }

 private:
  struct conn {
    explicit conn(boost::asio::any_io_executor ex) : down(ex), up(ex) {}
    void close() {
      boost::system::error_code ec;
      down.close(ec);
      up.close(ec);
    }
    tcp::socket down, up;
  };

  static boost::asio::awaitable<void> pump(std::shared_ptr<conn> c, bool to_upstream) {
    std::array<char, 16384> buf;
    tcp::socket& from = to_upstream ? c->down : c->up;
    tcp::socket& to = to_upstream ? c->up : c->down;
    boost::system::error_code ec;
    for (;;) {
      std::size_t n = co_await from.async_read_some(boost::asio::buffer(buf), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) break;
      co_await boost::asio::async_write(to, boost::asio::buffer(buf.data(), n), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) break;
    }
    c->close();
  }

  static boost::asio::awaitable<void> swallow(std::shared_ptr<conn> c) {
    std::array<char, 4096> buf;
    boost::system::error_code ec;
    for (;;) {
      co_await c->down.async_read_some(boost::asio::buffer(buf), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) break;
    }
  }

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto c = std::make_shared<conn>(ex_);
      boost::system::error_code ec;
      co_await acceptor_.async_accept(c->down, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec || stopped_) co_return;
      ++accepted_;
      conns_.push_back(c);
      if (black_hole_) {
        boost::asio::co_spawn(ex_, swallow(c), boost::asio::detached);
        continue;
      }
      co_await c->up.async_connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), upstream_port_),
                                   boost::asio::redirect_error(boost::asio::use_awaitable, ec));
      if (ec) {
        c->close();
        continue;
      }
      boost::asio::co_spawn(ex_, pump(c, true), boost::asio::detached);
      boost::asio::co_spawn(ex_, pump(c, false), boost::asio::detached);
    }
  }

  boost::asio::any_io_executor ex_;
  tcp::acceptor acceptor_;
  std::uint16_t upstream_port_;
  std::list<std::shared_ptr<conn>> conns_;
  bool black_hole_ = false;
  bool stopped_ = false;
  std::size_t accepted_ = 0;
};

}  // namespace chainsd::ha::test
