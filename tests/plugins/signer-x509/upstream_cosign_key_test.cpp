// signer-x509 with upstream's cosign test key pair (../shared/conformance/inputs/keys, beside the
// clone): decrypted with its cosign.password, signatures checked by openssl. Without ../shared the
// binary is a skip (exit 77).
#include <catch2/catch.hpp>

#include "x509_test_util.hpp"
#include "../../support/prerequisites.hpp"

#include <cstdlib>

using namespace chainsd;
using namespace x509_test;

namespace {

// $CHAINSD_CONFORMANCE_DIR overrides the corpus's place, as for tests/engine/provenance/conformance.
fs::path upstream_keys() {
  const char* dir = std::getenv("CHAINSD_CONFORMANCE_DIR");
  fs::path corpus = dir && *dir ? fs::path(dir) : fs::path(SOURCE_ROOT) / ".." / "shared" / "conformance";
  return corpus / "inputs" / "keys";
}

const bool keys_present = ::test_support::require(fs::exists(upstream_keys() / "cosign.key"),
                                                  upstream_keys().string() + " is absent (upstream test keys come from ../shared)");

}  // namespace

TEST_CASE("cosign.key with cosign.password decrypts and signs; the signature verifies with cosign.pub") {
  const fs::path keys = upstream_keys();
  tmpdir secrets;
  fs::copy_file(keys / "cosign.key", secrets.path / "cosign.key");
  fs::copy_file(keys / "cosign.password", secrets.path / "cosign.password");
  test_support::fake_host host(secrets.path.string());
  auto s = test_support::installed_plugins().make_signer("x509", host, {});
  REQUIRE(s.has_value());
  auto pub = read_file(keys / "cosign.pub");
  CHECK((*s)->public_key_pem() == pub);
  auto sig = sign_with(host, **s, "hello");
  CHECK(openssl_verifies(secrets.path, pub, "hello", sig, false));

  SECTION("a wrong password: sign() answers bad_config saying so") {
    write_file(secrets.path / "cosign.password", "not-the-password");
    auto bad = test_support::installed_plugins().make_signer("x509", host, {});
    REQUIRE(bad.has_value());
    auto r = try_sign(host, **bad, "m");
    REQUIRE(r.has_error());
    CHECK(r.error().code == plugin::errc::bad_config);
    CHECK_THAT(r.error().message, Catch::Contains("wrong password in cosign.password"));
  }
}
