// signer-x509 loaded as a plugin, keys made by the openssl CLI, signatures checked by openssl
// (an independent verifier) and key ids by ssh-keygen.
#include <catch2/catch.hpp>

#include "x509_test_util.hpp"
#include "plugin_host/registry.hpp"
#include "signing/dsse.hpp"

#include <thread>

using namespace chainsd;

using namespace x509_test;

TEST_CASE("x509.pem keys of each type sign bytes that openssl verifies") {
  struct kind {
    const char* name;
    const char* genpkey_args;
    bool ed25519;
  };
  for (auto k : {kind{"ecdsa-p256", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256", false},
                 kind{"ed25519", "-algorithm ED25519", true},
                 kind{"rsa-2048", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", false}}) {
    DYNAMIC_SECTION(k.name) {
      tmpdir secrets;
      REQUIRE(sh("openssl genpkey " + std::string(k.genpkey_args) + " -out " + (secrets.path / "x509.pem").string()) == 0);
      test_support::fake_host host(secrets.path.string());
      auto s = test_support::installed_plugins().make_signer("x509", host, {});
      REQUIRE(s.has_value());
      std::string msg = signing::pae(signing::in_toto_payload_type, "{\"_type\":\"https://in-toto.io/Statement/v0.1\"}");
      auto sig = sign_with(host, **s, msg);
      CHECK(openssl_verifies(secrets.path, (*s)->public_key_pem(), msg, sig, k.ed25519));
      CHECK_FALSE(openssl_verifies(secrets.path, (*s)->public_key_pem(), msg + "x", sig, k.ed25519));

      // Key id equals ssh-keygen's SHA256 fingerprint of the same public key (ssh-keygen cannot
      // import PKCS#8 Ed25519 keys; the Ed25519 wire format is covered by the DSSE e2e tests).
      if (k.ed25519) continue;
      write_file(secrets.path / "pub.pem", (*s)->public_key_pem());
      REQUIRE(sh("ssh-keygen -i -m PKCS8 -f " + (secrets.path / "pub.pem").string() + " > " +
                 (secrets.path / "key.pub").string()) == 0);
      REQUIRE(sh("ssh-keygen -l -E sha256 -f " + (secrets.path / "key.pub").string() + " > " +
                 (secrets.path / "fp.txt").string()) == 0);
      auto fp = read_file(secrets.path / "fp.txt");
      CHECK_THAT(fp, Catch::Contains(signing::ssh_key_id((*s)->public_key_pem())));
    }
  }
}

TEST_CASE("missing or malformed keys: the signer is made, sign() answers with errors naming the files") {
  tmpdir secrets;
  test_support::fake_host host(secrets.path.string());
  auto sign_error = [&] {
    auto s = test_support::installed_plugins().make_signer("x509", host, {});
    REQUIRE(s.has_value());
    auto r = try_sign(host, **s, "m");
    REQUIRE(r.has_error());
    CHECK((*s)->public_key_pem().empty());
    return r.error();
  };
  SECTION("no key at all: not_found (the engine parks the run)") {
    auto e = sign_error();
    CHECK(e.code == plugin::errc::not_found);
    CHECK_THAT(e.message, Catch::Contains("looked for: [x509.pem, cosign.key]"));
  }
  SECTION("x509.pem holding a certificate instead of a key") {
    write_file(secrets.path / "x509.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    auto e = sign_error();
    CHECK(e.code == plugin::errc::bad_config);
    CHECK_THAT(e.message, Catch::Contains("x509.pem: expected a PKCS#8 \"PRIVATE KEY\" PEM block, found a PEM block of type CERTIFICATE"));
  }
  SECTION("cosign.key without its password yet: not_found, waiting for it") {
    write_file(secrets.path / "cosign.key", "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n");
    auto e = sign_error();
    CHECK(e.code == plugin::errc::not_found);
    CHECK_THAT(e.message, Catch::Contains("cosign.password is missing"));
  }
}

TEST_CASE("a rotated key file is picked up without a restart") {
  tmpdir secrets;
  REQUIRE(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + (secrets.path / "x509.pem").string()) == 0);
  test_support::fake_host host(secrets.path.string());
  auto s = test_support::installed_plugins().make_signer("x509", host, {});
  REQUIRE(s.has_value());
  auto first = (*s)->public_key_pem();
  REQUIRE(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + (secrets.path / "x509.pem").string() +
             " && touch -d '+1 minute' " + (secrets.path / "x509.pem").string()) == 0);
  // The check runs at most every second: the reload needs a sign after that.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto sig = sign_with(host, **s, "m");
  CHECK((*s)->public_key_pem() != first);
  CHECK(openssl_verifies(secrets.path, (*s)->public_key_pem(), "m", sig, false));
}
