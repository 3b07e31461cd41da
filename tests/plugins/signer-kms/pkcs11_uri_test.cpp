// signers.kms.kmsref pkcs11:… (RFC 7512): path and query attributes, percent-decoding, PIN
// sources, what is refused, and the redaction of pin-value in messages.
#include <catch2/catch.hpp>

#include "kms_ref.hpp"
#include "pkcs11_uri.hpp"

using namespace signer_kms;

TEST_CASE("pkcs11 URI: RFC 7512 attributes, percent-decoded") {
  auto r = parse_pkcs11_uri("pkcs11:token=my%20token;object=release;id=%0a%FF;type=private"
                            "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634");
  REQUIRE(r.uri);
  CHECK(r.uri->token == "my token");
  CHECK(r.uri->object == "release");
  CHECK(r.uri->id == std::string("\x0a\xff", 2));
  CHECK(r.uri->module_path == "/usr/lib/softhsm/libsofthsm2.so");
  CHECK(r.uri->pin_value == "12&34");
  CHECK(r.uri->has_pin);

  auto f = parse_pkcs11_uri("pkcs11:serial=abc;id=%01?pin-source=file:/run/pin");
  REQUIRE(f.uri);
  CHECK(f.uri->serial == "abc");
  CHECK(f.uri->pin_source == "/run/pin");
  CHECK(f.uri->module_path.empty());
  CHECK(parse_pkcs11_uri("pkcs11:object=k?pin-source=/run/pin").uri->pin_source == "/run/pin");
  CHECK_FALSE(parse_pkcs11_uri("pkcs11:object=k").uri->has_pin);

  auto k = parse_kms_ref("pkcs11:object=k?module-path=/m.so");
  REQUIRE(k.ref);
  CHECK(k.ref->kind == provider::pkcs11);
  CHECK(k.ref->key == "pkcs11:object=k?module-path=/m.so");
}

TEST_CASE("pkcs11 URI: refused forms name the attribute; pin-value is redacted") {
  auto err = [](const char* s) { return parse_pkcs11_uri(s).error; };
  CHECK_THAT(err("pkcs11:token=t"), Catch::Contains("names no key"));
  CHECK_THAT(err("pkcs11:object=k;object=j"), Catch::Contains("object is repeated"));
  CHECK_THAT(err("pkcs11:object=k;type=cert"), Catch::Contains("type=cert"));
  CHECK_THAT(err("pkcs11:object=k;slot-id=3"), Catch::Contains("slot-id is not supported"));
  CHECK_THAT(err("pkcs11:object=k?module-name=softhsm2"), Catch::Contains("module-name is not supported"));
  CHECK_THAT(err("pkcs11:object=%zz"), Catch::Contains("percent-encoding"));
  CHECK_THAT(err("pkcs11:object=%0"), Catch::Contains("percent-encoding"));
  CHECK_THAT(err("pkcs11:object"), Catch::Contains("has no value"));
  CHECK_THAT(err("pkcs11:object=k?pin-source=relative"), Catch::Contains("ABSOLUTE"));
  CHECK_THAT(err("pkcs11:object=k?pin-value=1&pin-source=/p"), Catch::Contains("not both"));
  auto e = err("pkcs11:object=k;bogus=1?pin-value=secret&module-path=/m.so");
  CHECK_THAT(e, Catch::Contains("signers.kms.kmsref") && Catch::Contains("pin-value=***&module-path=/m.so"));
  CHECK_THAT(e, !Catch::Contains("secret"));
  CHECK(redact_pkcs11_uri("pkcs11:object=k") == "pkcs11:object=k");
  CHECK_FALSE(parse_kms_ref("pkcs11:token=t").ref);
}
