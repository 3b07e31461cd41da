#include "tlog/note.hpp"

#include "chainsd/plugin/encoding.hpp"
#include "tlog/merkle.hpp"
#include "tlog/pkey.hpp"


#include <charconv>

namespace chainsd::tlog {
namespace {

// U+2014 EM DASH and a space start every signature line.
constexpr std::string_view dash = "\xe2\x80\x94 ";

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (c == '+' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return false;
  return true;
}

std::uint32_t first_four(std::string_view h) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(h[static_cast<std::size_t>(i)]);
  return v;
}

// ECDSA notes are signed with the hash that goes with the curve (sigstore's default signers).
const EVP_MD* ecdsa_md(EVP_PKEY* key) {
  int bits = EVP_PKEY_get_bits(key);
  if (bits > 384) return EVP_sha512();
  if (bits > 256) return EVP_sha384();
  return EVP_sha256();
}

}  // namespace

note_key make_note_key(std::string_view name, std::string_view public_key_pem) {
  if (!valid_name(name)) throw verify_error("note key name \"" + std::string(name) + "\" is empty or has a space or '+'");
  auto key = detail::load_key(public_key_pem);
  note_key k;
  k.name = std::string(name);
  k.pem = std::string(public_key_pem);
  std::string hashed;
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_ED25519: {
      unsigned char raw[32];
      std::size_t len = sizeof raw;
      if (EVP_PKEY_get_raw_public_key(key.get(), raw, &len) != 1 || len != 32)
        throw verify_error("note key: cannot read the Ed25519 public key");
      k.kind = note_key::type::ed25519;
      hashed = k.name + '\n' + '\x01' + std::string(reinterpret_cast<const char*>(raw), len);
      break;
    }
    case EVP_PKEY_EC:
      k.kind = note_key::type::ecdsa;
      hashed = detail::spki_der(key.get());
      break;
    case EVP_PKEY_RSA:
      k.kind = note_key::type::rsa;
      hashed = k.name + '\n' + '\xff' + "PKIX-RSA-PKCS#1v1.5" + detail::spki_der(key.get());
      break;
    default:
      throw verify_error("note key: not an Ed25519, ECDSA or RSA key");
  }
  k.id = sha256(hashed);
  k.key_id = first_four(k.id);
  return k;
}

std::string verify_note(std::string_view signed_note, const note_key& key) {
  // The text is separated from the signatures by the LAST blank line.
  auto split = signed_note.rfind("\n\n");
  if (split == std::string_view::npos || signed_note.back() != '\n') throw verify_error("checkpoint: malformed signed note");
  std::string_view text = signed_note.substr(0, split + 1);
  std::string_view sigs = signed_note.substr(split + 2);
  if (sigs.empty()) throw verify_error("checkpoint: no signature lines");
  auto pk = detail::load_key(key.pem);
  bool verified = false;
  for (std::size_t pos = 0; pos < sigs.size();) {
    auto nl = sigs.find('\n', pos);
    std::string_view line = sigs.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.substr(0, dash.size()) != dash) throw verify_error("checkpoint: malformed signature line");
    line.remove_prefix(dash.size());
    auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0) throw verify_error("checkpoint: malformed signature line");
    std::string_view name = line.substr(0, sp);
    std::string raw;
    try {
      raw = plugin::base64_decode(line.substr(sp + 1));
    } catch (const std::invalid_argument&) {
      throw verify_error("checkpoint: a signature is not base64");
    }
    if (raw.size() < 5) throw verify_error("checkpoint: a signature is too short");
    // Unknown signers (witnesses, other keys) are ignored; ours must verify.
    if (name != key.name || first_four(raw) != key.key_id) continue;
    std::string_view sig = std::string_view(raw).substr(4);
    const EVP_MD* md = key.kind == note_key::type::ecdsa ? ecdsa_md(pk.get()) : nullptr;
    if (!detail::verify_message(pk.get(), text, sig, md))
      throw verify_error("checkpoint signature by " + key.name + " does not verify with the log's public key");
    verified = true;
  }
  if (!verified) throw verify_error("checkpoint carries no signature by the log's key " + key.name);
  return std::string(text);
}

checkpoint parse_checkpoint(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) throw verify_error("checkpoint: note text does not end in a newline");
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (lines.size() < 3) throw verify_error("checkpoint: fewer than three lines");
  checkpoint c;
  c.origin = std::string(lines[0]);
  if (c.origin.empty()) throw verify_error("checkpoint: empty origin");
  const auto& size = lines[1];
  auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), c.size);
  if (ec != std::errc() || end != size.data() + size.size() || size.empty() || (size.size() > 1 && size[0] == '0'))
    throw verify_error("checkpoint: tree size \"" + std::string(size) + "\" is not a decimal number");
  try {
    c.root = plugin::base64_decode(lines[2]);
  } catch (const std::invalid_argument&) {
    throw verify_error("checkpoint: root hash is not base64");
  }
  if (c.root.size() != 32) throw verify_error("checkpoint: root hash is not 32 bytes");
  for (std::size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) throw verify_error("checkpoint: empty extension line");
    c.extensions.emplace_back(lines[i]);
  }
  return c;
}

checkpoint verify_checkpoint_note(std::string_view signed_note, const note_key& key) {
  auto c = parse_checkpoint(verify_note(signed_note, key));
  if (c.origin != key.name)
    throw verify_error("checkpoint origin \"" + c.origin + "\" is not the log's \"" + key.name + "\"");
  return c;
}

}  // namespace chainsd::tlog
