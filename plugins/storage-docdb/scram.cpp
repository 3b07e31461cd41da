#include "scram.hpp"

#include <chainsd/plugin/encoding.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>

namespace storage_docdb::scram {
namespace plugin = chainsd::plugin;

namespace {

using digest = std::array<unsigned char, 32>;

digest hmac(std::string_view key, std::string_view msg) {
  digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out.data(), &len);
  return out;
}

std::string_view view(const digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

// The value of attribute `name` ("r", "s", "i", "v", "e") in a comma-separated SCRAM message.
std::string attribute(std::string_view msg, char name) {
  while (!msg.empty()) {
    const auto comma = msg.find(',');
    const auto part = msg.substr(0, comma);
    if (part.size() >= 2 && part[0] == name && part[1] == '=') return std::string(part.substr(2));
    if (comma == std::string_view::npos) break;
    msg.remove_prefix(comma + 1);
  }
  return {};
}

}  // namespace

std::string escape_user(std::string_view user) {
  std::string out;
  for (char c : user) {
    if (c == '=')
      out += "=3D";
    else if (c == ',')
      out += "=2C";
    else
      out += c;
  }
  return out;
}

bool printable_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

std::string make_nonce() {
  std::array<unsigned char, 24> b{};
  RAND_bytes(b.data(), static_cast<int>(b.size()));
  return plugin::base64_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

std::string client::first_message() {
  first_bare = "n=" + escape_user(user) + ",r=" + nonce;
  return "n,," + first_bare;
}

plugin::result<std::string> client::final_message(std::string_view server_first) {
  if (!attribute(server_first, 'e').empty())
    return plugin::fail(plugin::errc::unauthenticated, "SCRAM: the server refused: " + attribute(server_first, 'e'));
  const std::string r = attribute(server_first, 'r');
  const std::string s = attribute(server_first, 's');
  const std::string i = attribute(server_first, 'i');
  if (r.empty() || s.empty() || i.empty())
    return plugin::fail(plugin::errc::permanent, "SCRAM: a malformed server-first message");
  if (!r.starts_with(nonce) || r.size() == nonce.size())
    return plugin::fail(plugin::errc::permanent, "SCRAM: the server's nonce does not extend the client's");
  int iterations = 0;
  try {
    iterations = std::stoi(i);
  } catch (const std::exception&) {
    return plugin::fail(plugin::errc::permanent, "SCRAM: iteration count \"" + i + "\" is not a number");
  }
  if (iterations < 4096) return plugin::fail(plugin::errc::permanent, "SCRAM: fewer than 4096 iterations (" + i + ")");
  std::string salt;
  try {
    salt = plugin::base64_decode(s);
  } catch (const std::exception&) {
    return plugin::fail(plugin::errc::permanent, "SCRAM: the salt is not base64");
  }
  digest salted{};
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), static_cast<int>(salted.size()), salted.data());
  const digest client_key = hmac(view(salted), "Client Key");
  digest stored{};
  SHA256(client_key.data(), client_key.size(), stored.data());
  const std::string without_proof = "c=biws,r=" + r;
  const std::string auth_message = first_bare + "," + std::string(server_first) + "," + without_proof;
  const digest signature = hmac(view(stored), auth_message);
  digest proof{};
  for (std::size_t k = 0; k < proof.size(); ++k) proof[k] = client_key[k] ^ signature[k];
  const digest server_key = hmac(view(salted), "Server Key");
  server_signature = plugin::base64_encode(view(hmac(view(server_key), auth_message)));
  return without_proof + ",p=" + plugin::base64_encode(view(proof));
}

plugin::result<void> client::verify(std::string_view server_final) const {
  if (!attribute(server_final, 'e').empty())
    return plugin::fail(plugin::errc::unauthenticated, "SCRAM: the server refused: " + attribute(server_final, 'e'));
  if (server_signature.empty() || attribute(server_final, 'v') != server_signature)
    return plugin::fail(plugin::errc::unauthenticated, "SCRAM: the server's signature does not match (not the server "
                                                       "that holds this user's credentials)");
  return {};
}

}  // namespace storage_docdb::scram
