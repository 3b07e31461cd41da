#pragma once
// Helpers of the signer-x509 plugin tests: a private directory, shell commands, files, one
// sign() run to completion on the fake host's loop, and openssl as the independent verifier.

#include "../../support/fake_host.hpp"
#include "../../support/load_plugin.hpp"
#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace x509_test {

namespace fs = std::filesystem;
namespace plugin = chainsd::plugin;

// A secrets directory (0755: the plugin reads it as a mounted Secret).
struct tmpdir {
  chainsd::test_support::temp_dir dir{"chainsd-x509-", 0755};
  const fs::path path = dir.path();
};

// Runs a shell command; its own redirections apply, stderr is silenced.
inline int sh(const std::string& cmd) { return std::system(("{ " + cmd + "; } 2>/dev/null").c_str()); }

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
inline void write_file(const fs::path& p, std::string_view s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

inline plugin::result<plugin::signature_result> try_sign(test_support::fake_host& host, plugin::signer& s,
                                                         std::string msg) {
  auto fut = boost::asio::co_spawn(host.ctx, s.sign(std::move(msg)), boost::asio::use_future);
  host.ctx.restart();
  host.ctx.run();
  return fut.get();
}

inline std::string sign_with(test_support::fake_host& host, plugin::signer& s, std::string msg) {
  auto r = try_sign(host, s, std::move(msg));
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r.has_value());
  return r->signature;
}

// Verifies with `openssl pkeyutl` (Ed25519) or `openssl dgst -sha256 -verify` (ECDSA/RSA).
inline bool openssl_verifies(const fs::path& dir, const std::string& pub_pem, const std::string& msg, const std::string& sig,
                      bool ed25519) {
  write_file(dir / "pub.pem", pub_pem);
  write_file(dir / "msg.bin", msg);
  write_file(dir / "sig.bin", sig);
  std::string d = dir.string();
  if (ed25519)
    return sh("openssl pkeyutl -verify -pubin -inkey " + d + "/pub.pem -rawin -in " + d + "/msg.bin -sigfile " + d +
              "/sig.bin >/dev/null") == 0;
  return sh("openssl dgst -sha256 -verify " + d + "/pub.pem -signature " + d + "/sig.bin " + d + "/msg.bin >/dev/null") == 0;
}

}  // namespace x509_test
