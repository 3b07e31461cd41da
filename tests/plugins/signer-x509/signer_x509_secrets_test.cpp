// signer-x509 and its signing-secrets directory over time: a key added after start (through the
// `..data` symlink swap kubelet does), a password fixed on disk, files that are not keys (a
// device, a fifo, a huge file), cosign keys with scrypt parameters outside what cosign writes,
// and the key derivation running off the loop. cosign keys are made by
// tests/support/cosign-keys/make_cosign_key.py (hashlib.scrypt + libsodium's secretbox).
#include <catch2/catch.hpp>

#include "../../support/rss.hpp"
#include "x509_test_util.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

using namespace x509_test;
using namespace std::chrono_literals;

namespace {

const std::string make_key_py = std::string(SOURCE_ROOT) + "/tests/support/cosign-keys/make_cosign_key.py";

// cosign.key/.pub/.password into `dir`, made with scrypt `params` (written as `declare` if set).
void make_cosign_key(const fs::path& dir, const std::string& params = "32768,8,1", const std::string& declare = "") {
  std::string cmd = "python3 " + make_key_py + " " + dir.string() + " --params " + params;
  if (!declare.empty()) cmd += " --declare " + declare;
  REQUIRE(sh(cmd) == 0);
}

// Kubernetes' atomic writer: the files live in a timestamped directory, `..data` points at it and
// each key name is a link through `..data`; an update writes a new directory and renames a new
// `..data` link over the old one.
struct secret_volume {
  fs::path dir;
  int generation = 0;
  void publish(const fs::path& content, const std::vector<std::string>& names) {
    auto ts = "..2026_12_04_00_00_0" + std::to_string(generation++);
    fs::copy(content, dir / ts);
    fs::create_directory_symlink(ts, dir / "..data_tmp");
    fs::rename(dir / "..data_tmp", dir / "..data");
    for (const auto& n : names)
      if (!fs::is_symlink(dir / n)) fs::create_symlink("..data/" + n, dir / n);
  }
};

// Counts 5 ms timer expiries until *done: how much the loop ran meanwhile.
boost::asio::awaitable<void> tick_every_5ms(int* ticks, const bool* done) {
  boost::asio::steady_timer t(co_await boost::asio::this_coro::executor);
  while (!*done) {
    t.expires_after(5ms);
    co_await t.async_wait(boost::asio::use_awaitable);
    ++*ticks;
  }
}

}  // namespace

TEST_CASE("a cosign key added after start through a ..data swap signs within a second; a rotation too") {
  tmpdir secrets;
  tmpdir staging;
  secret_volume vol{secrets.path};
  fs::create_directory(staging.path / "empty");
  vol.publish(staging.path / "empty", {});  // upstream's install: an empty signing-secrets Secret
  test_support::fake_host host(secrets.path.string());
  auto s = test_support::installed_plugins().make_signer("x509", host, {});
  REQUIRE(s.has_value());
  auto r = try_sign(host, **s, "m");
  REQUIRE(r.has_error());
  CHECK(r.error().code == plugin::errc::not_found);

  const std::vector<std::string> names{"cosign.key", "cosign.pub", "cosign.password"};
  make_cosign_key(staging.path / "k1");
  vol.publish(staging.path / "k1", names);
  auto added = std::chrono::steady_clock::now();
  std::optional<plugin::result<plugin::signature_result>> ok;
  while (std::chrono::steady_clock::now() - added < 5s) {
    auto attempt = try_sign(host, **s, "m");
    if (attempt) {
      ok = std::move(attempt);
      break;
    }
    CHECK(attempt.error().code == plugin::errc::not_found);
    std::this_thread::sleep_for(50ms);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - added);
  std::printf("cosign key added after start: signed %lld ms after it appeared\n", static_cast<long long>(took.count()));
  REQUIRE(ok);
  CHECK(took < 1500ms);
  auto pub1 = read_file(staging.path / "k1" / "cosign.pub");
  CHECK((*s)->public_key_pem() == pub1);
  CHECK(openssl_verifies(staging.path, pub1, "m", (*ok)->signature, false));

  make_cosign_key(staging.path / "k2");
  vol.publish(staging.path / "k2", names);
  std::this_thread::sleep_for(1100ms);
  auto sig = sign_with(host, **s, "m2");
  auto pub2 = read_file(staging.path / "k2" / "cosign.pub");
  CHECK((*s)->public_key_pem() == pub2);
  CHECK(openssl_verifies(staging.path, pub2, "m2", sig, false));
}

TEST_CASE("a wrong cosign.password is bad_config until the file is fixed, then the key signs") {
  tmpdir secrets;
  make_cosign_key(secrets.path);
  auto right = read_file(secrets.path / "cosign.password");
  write_file(secrets.path / "cosign.password", "wrong");
  test_support::fake_host host(secrets.path.string());
  auto s = test_support::installed_plugins().make_signer("x509", host, {});
  REQUIRE(s.has_value());
  auto r = try_sign(host, **s, "m");
  REQUIRE(r.has_error());
  CHECK(r.error().code == plugin::errc::bad_config);
  CHECK_THAT(r.error().message, Catch::Contains("signing-secrets/cosign.key") && Catch::Contains("wrong password"));
  write_file(secrets.path / "cosign.password.new", right);
  fs::rename(secrets.path / "cosign.password.new", secrets.path / "cosign.password");
  std::this_thread::sleep_for(1100ms);
  auto sig = sign_with(host, **s, "m");
  CHECK(openssl_verifies(secrets.path, read_file(secrets.path / "cosign.pub"), "m", sig, false));
}

TEST_CASE("scrypt parameters: cosign's sets are accepted, others refused naming the file, before deriving") {
  for (const char* params : {"32768,8,1", "65536,8,1"}) {
    DYNAMIC_SECTION("accepted " << params) {
      tmpdir secrets;
      make_cosign_key(secrets.path, params);
      test_support::fake_host host(secrets.path.string());
      auto s = test_support::installed_plugins().make_signer("x509", host, {});
      REQUIRE(s.has_value());
      auto sig = sign_with(host, **s, "m");
      CHECK(openssl_verifies(secrets.path, read_file(secrets.path / "cosign.pub"), "m", sig, false));
    }
  }
  // The ciphertext is made with cosign's parameters; the file claims others (the 16 GiB
  // N=2^22 r=32 and 1 GiB N=2^20 r=8 among them): refused without running scrypt.
  for (const char* declared : {"4194304,32,1", "1048576,8,1", "262144,8,1", "32768,16,1", "32768,8,2", "16384,8,1",
                               "32769,8,1", "18446744073709551615,8,1"}) {
    DYNAMIC_SECTION("refused " << declared) {
      tmpdir secrets;
      make_cosign_key(secrets.path, "32768,8,1", declared);
      test_support::fake_host host(secrets.path.string());
      auto rss_before = test_support::rss_kib();
      auto t0 = std::chrono::steady_clock::now();
      auto s = test_support::installed_plugins().make_signer("x509", host, {});
      auto elapsed = std::chrono::steady_clock::now() - t0;
      REQUIRE(s.has_value());
      auto r = try_sign(host, **s, "m");
      REQUIRE(r.has_error());
      CHECK(r.error().code == plugin::errc::bad_config);
      CHECK_THAT(r.error().message, Catch::Contains("signing-secrets/cosign.key: scrypt parameters N="));
      CHECK_THAT(r.error().message, Catch::Contains("are not accepted"));
      // Refused while parsing, before any derivation: cosign's own set takes ~100 ms, most sets
      // refused here far longer (N=2^22 r=32: 16 GiB).
      CHECK(elapsed < 100ms);
      CHECK(test_support::rss_kib() - rss_before < 8 * 1024);
    }
  }
}

TEST_CASE("a key change is derived off the loop: the loop keeps running timers meanwhile") {
  tmpdir secrets;
  test_support::fake_host host(secrets.path.string());
  auto s = test_support::installed_plugins().make_signer("x509", host, {});
  REQUIRE(s.has_value());
  make_cosign_key(secrets.path, "131072,8,1");  // 128 MiB, the costliest set accepted
  std::this_thread::sleep_for(1100ms);
  int ticks = 0;
  bool done = false;
  auto fut_tick = boost::asio::co_spawn(host.ctx, tick_every_5ms(&ticks, &done), boost::asio::use_future);
  auto fut = boost::asio::co_spawn(host.ctx, (*s)->sign("m"), boost::asio::use_future);
  auto t0 = std::chrono::steady_clock::now();
  host.ctx.restart();
  while (fut.wait_for(0s) != std::future_status::ready) host.ctx.run_one();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  done = true;
  host.ctx.run();
  fut_tick.get();
  auto r = fut.get();
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  std::printf("off-loop derivation (N=131072, r=8): %lld ms, %d loop ticks of 5 ms meanwhile\n",
              static_cast<long long>(took.count()), ticks);
  CHECK(ticks >= static_cast<int>(took.count() / 5 / 3));
  CHECK(ticks >= 10);
}

TEST_CASE("signing-secrets files that are not keys are refused, naming the file: a device, a fifo, a huge file") {
  tmpdir secrets;
  test_support::fake_host host(secrets.path.string());
  auto sign_error = [&] {
    auto rss_before = test_support::rss_kib();
    auto s = test_support::installed_plugins().make_signer("x509", host, {});
    REQUIRE(s.has_value());
    auto r = try_sign(host, **s, "m");
    REQUIRE(r.has_error());
    CHECK(test_support::rss_kib() - rss_before < 8 * 1024);
    CHECK(r.error().code == plugin::errc::bad_config);
    return r.error().message;
  };
  SECTION("x509.pem -> /dev/zero") {
    fs::create_symlink("/dev/zero", secrets.path / "x509.pem");
    auto m = sign_error();
    CHECK_THAT(m, Catch::Contains("x509.pem is a character device, not a regular file"));
  }
  SECTION("cosign.key a fifo nobody writes (opening it must not block)") {
    REQUIRE(::mkfifo((secrets.path / "cosign.key").c_str(), 0600) == 0);
    auto m = sign_error();
    CHECK_THAT(m, Catch::Contains("cosign.key is a fifo, not a regular file"));
  }
  SECTION("x509.pem a directory") {
    fs::create_directory(secrets.path / "x509.pem");
    auto m = sign_error();
    CHECK_THAT(m, Catch::Contains("x509.pem is a directory"));
  }
  SECTION("x509.pem of 200 KiB") {
    write_file(secrets.path / "x509.pem", std::string(200 * 1024, 'A'));
    auto m = sign_error();
    CHECK_THAT(m, Catch::Contains("signing-secrets/x509.pem is 204800 bytes, more than the 64 KiB allowed"));
  }
}

// Also a failure before any I/O: the fetch co_spawn may run inline is over when sign() looks.
TEST_CASE("keyless: a token file that is a device is refused naming signers.x509.identity.token.file") {
  test_support::fake_host host;
  auto s = test_support::installed_plugins().make_signer(
      "x509", host, {{"signers.x509.fulcio.enabled", "true"}, {"signers.x509.identity.token.file", "/dev/zero"}});
  REQUIRE(s.has_value());
  auto rss_before = test_support::rss_kib();
  auto r = try_sign(host, **s, "m");
  REQUIRE(r.has_error());
  CHECK(test_support::rss_kib() - rss_before < 8 * 1024);
  CHECK_THAT(r.error().message,
             Catch::Contains("signers.x509.identity.token.file: /dev/zero is a character device, not a regular file"));
}
