#include "aws_api.hpp"

#include "json_fields.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <ctime>
#include <set>
#include <strings.h>

namespace signer_kms::aws {

namespace json = boost::json;

namespace {

std::string xml_field(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">", close = "</" + std::string(name) + ">";
  auto a = xml.find(open);
  if (a == std::string_view::npos) return {};
  a += open.size();
  auto b = xml.find(close, a);
  return b == std::string_view::npos ? std::string() : std::string(xml.substr(a, b - a));
}

// 2026-12-04T02:00:00Z (STS's Expiration) → time_point; max() when unreadable.
std::chrono::system_clock::time_point iso_time(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::chrono::system_clock::time_point::max();
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

std::string url_encode(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string get_public_key_request(std::string_view key_id) {
  return json::serialize(json::object{{"KeyId", key_id}});
}

plugin::result<public_key_info> parse_public_key(std::string_view body) {
  json::value v;
  const auto* o = object_of(body, v);
  if (!o) return plugin::fail(plugin::errc::permanent, "the GetPublicKey answer is not a JSON object");
  public_key_info out;
  out.key_arn = str(*o, "KeyId");
  const auto* algs = o->if_contains("SigningAlgorithms");
  if (algs && algs->is_array() && !algs->get_array().empty() && algs->get_array()[0].is_string())
    out.algorithm = std::string(algs->get_array()[0].get_string());
  if (str(*o, "KeyUsage") != "SIGN_VERIFY" || out.algorithm.empty())
    return plugin::fail(plugin::errc::bad_config, "the key is not a SIGN_VERIFY key (KeyUsage \"" +
                                                      str(*o, "KeyUsage") + "\")");
  try {
    out.der = plugin::base64_decode(str(*o, "PublicKey"));
  } catch (const std::invalid_argument&) {
    return plugin::fail(plugin::errc::permanent, "the GetPublicKey answer's PublicKey is not base64");
  }
  if (out.der.empty()) return plugin::fail(plugin::errc::permanent, "the GetPublicKey answer has no PublicKey");
  return out;
}

bool supported_algorithm(std::string_view alg) {
  return alg == "ECDSA_SHA_256" || alg == "RSASSA_PKCS1_V1_5_SHA_256";
}

std::string sign_request(std::string_view key_id, std::string_view digest, std::string_view algorithm) {
  return json::serialize(json::object{{"KeyId", key_id},
                                      {"Message", plugin::base64_encode(digest)},
                                      {"MessageType", "DIGEST"},
                                      {"SigningAlgorithm", algorithm}});
}

plugin::result<std::string> parse_signature(std::string_view body) {
  json::value v;
  const auto* o = object_of(body, v);
  std::string sig = o ? str(*o, "Signature") : std::string();
  if (sig.empty()) return plugin::fail(plugin::errc::permanent, "the Sign answer has no Signature");
  try {
    return plugin::base64_decode(sig);
  } catch (const std::invalid_argument&) {
    return plugin::fail(plugin::errc::permanent, "the Sign answer's Signature is not base64");
  }
}

std::pair<std::string, std::string> error_of(std::string_view body, const header_list& headers) {
  json::value v;
  const auto* o = object_of(body, v);
  std::string type = o ? str(*o, "__type") : std::string();
  std::string message = o ? str(*o, "message") : std::string();
  if (o && message.empty()) message = str(*o, "Message");
  if (type.empty())
    for (const auto& [name, value] : headers)
      if (name.size() == 16 && strncasecmp(name.c_str(), "x-amzn-ErrorType", 16) == 0) type = value;
  if (auto hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
  if (auto colon = type.find(':'); colon != std::string::npos) type = type.substr(0, colon);
  return {type, message};
}

plugin::error classify(unsigned status, std::string_view body, const header_list& headers,
                       const std::string& what) {
  static const std::set<std::string, std::less<>> unauthenticated{
      "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
      "IncompleteSignatureException", "MissingAuthenticationTokenException", "InvalidClientTokenId",
      "SignatureDoesNotMatch"};
  static const std::set<std::string, std::less<>> bad_config{
      "NotFoundException", "DisabledException", "InvalidKeyUsageException", "KMSInvalidStateException",
      "ValidationException", "InvalidArnException", "UnsupportedOperationException", "InvalidGrantTokenException"};
  static const std::set<std::string, std::less<>> retryable{"ThrottlingException", "KMSInternalException",
                                                            "DependencyTimeoutException", "KeyUnavailableException",
                                                            "LimitExceededException"};
  auto [type, message] = error_of(body, headers);
  std::string msg = what + ": HTTP " + std::to_string(status) + (type.empty() ? "" : " " + type) +
                    (message.empty() ? "" : ": " + message);
  if (unauthenticated.count(type))
    return plugin::fail(plugin::errc::unauthenticated,
                        msg + " (check the credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, "
                              "or AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, and the key policy)");
  if (bad_config.count(type)) return plugin::fail(plugin::errc::bad_config, msg + " (check signers.kms.kmsref)");
  if (retryable.count(type) || status >= 500) return plugin::fail(plugin::errc::retryable, msg);
  return plugin::fail(plugin::errc::permanent, msg);
}

std::string assume_role_form(std::string_view role_arn, std::string_view session, std::string_view token) {
  return "Action=AssumeRoleWithWebIdentity&RoleArn=" + url_encode(role_arn) + "&RoleSessionName=" +
         url_encode(session) + "&Version=2011-06-15&WebIdentityToken=" + url_encode(token);
}

plugin::result<aws_credentials> parse_assume_role(std::string_view xml) {
  aws_credentials c;
  c.access_key = xml_field(xml, "AccessKeyId");
  c.secret_key = xml_field(xml, "SecretAccessKey");
  c.session_token = xml_field(xml, "SessionToken");
  c.expires = iso_time(xml_field(xml, "Expiration"));
  if (c.access_key.empty() || c.secret_key.empty() || c.session_token.empty())
    return plugin::fail(plugin::errc::permanent, "the AssumeRoleWithWebIdentity answer has no Credentials");
  return c;
}

plugin::result<aws_credentials> parse_container_credentials(std::string_view body) {
  json::value v;
  const auto* o = object_of(body, v);
  if (!o) return plugin::fail(plugin::errc::permanent, "the answer is not a JSON object");
  aws_credentials c{str(*o, "AccessKeyId"), str(*o, "SecretAccessKey"), str(*o, "Token")};
  c.expires = iso_time(str(*o, "Expiration"));
  if (c.access_key.empty() || c.secret_key.empty())
    return plugin::fail(plugin::errc::permanent, "the answer has no AccessKeyId / SecretAccessKey");
  return c;
}

std::string sts_error(std::string_view xml) {
  auto code = xml_field(xml, "Code");
  auto message = xml_field(xml, "Message");
  return code.empty() ? std::string() : code + (message.empty() ? "" : ": " + message);
}

}  // namespace signer_kms::aws
