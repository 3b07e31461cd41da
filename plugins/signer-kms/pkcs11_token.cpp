#include "pkcs11_token.hpp"

#include "azure_api.hpp"  // raw_to_der

#include <p11-kit/pkcs11.h>

#include <dlfcn.h>

#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

namespace signer_kms {

namespace plugin = chainsd::plugin;

namespace {

// Process-wide: one dlopen + C_Initialize per module path, shared by the signers using it.
struct module {
  void* handle = nullptr;
  CK_FUNCTION_LIST_PTR f = nullptr;
  int users = 0;
};
std::mutex modules_mu;
std::map<std::string, module> modules;

std::string rv_name(CK_RV rv) {
  static const std::map<CK_RV, const char*> names = {
      {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"}, {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
      {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"}, {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
      {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"}, {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
      {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"}, {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
      {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"}, {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
      {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"}, {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
      {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"}, {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
      {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"}, {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
      {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"}, {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"}};
  std::ostringstream s;
  auto it = names.find(rv);
  s << (it == names.end() ? "CKR" : it->second) << " (0x" << std::hex << rv << ")";
  return s.str();
}

// A PKCS#11 failure, classified: a refused PIN is the operator's to fix now; a lost session or
// token is tried again (the session is reopened); anything else is permanent.
plugin::errc class_of(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT: case CKR_PIN_INVALID: case CKR_PIN_LEN_RANGE: case CKR_PIN_EXPIRED: case CKR_PIN_LOCKED:
      return plugin::errc::unauthenticated;
    case CKR_SESSION_HANDLE_INVALID: case CKR_SESSION_CLOSED: case CKR_DEVICE_REMOVED: case CKR_TOKEN_NOT_PRESENT:
    case CKR_USER_NOT_LOGGED_IN: case CKR_DEVICE_ERROR: case CKR_DEVICE_MEMORY: case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
      return plugin::errc::retryable;
    default:
      return plugin::errc::permanent;
  }
}

std::string padded(const unsigned char* p, std::size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// DER of the namedCurve prime256v1 OID (CKA_EC_PARAMS) and the SPKI prefix for a P-256 point.
const std::string p256_params("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);
const std::string p256_spki_prefix(
    "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00", 26);

}  // namespace

struct pkcs11_token::state {
  pkcs11_uri uri;
  std::string what;
  module* mod = nullptr;
  bool session_open = false;
  CK_SESSION_HANDLE session = 0;
  CK_OBJECT_HANDLE key = 0;
  std::shared_ptr<public_key> pub;  // pinned by the first read: a later session must find the same key
  std::optional<std::string> refused_pin;  // the PIN the token rejected: not sent again until it changes

  plugin::error fail(CK_RV rv, const std::string& doing) const {
    return plugin::fail(class_of(rv), "PKCS#11 " + what + ": " + doing + ": " + rv_name(rv));
  }

  plugin::result<void> load_module() {
    if (mod) return {};
    std::lock_guard lock(modules_mu);
    auto& m = modules[uri.module_path];
    if (!m.f) {
      void* h = ::dlopen(uri.module_path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        std::string why = ::dlerror();
        modules.erase(uri.module_path);
        return plugin::fail(plugin::errc::bad_config, "PKCS#11 module " + uri.module_path +
                                                          " (module-path of signers.kms.kmsref) cannot be loaded: " + why);
      }
      auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(h, "C_GetFunctionList"));
      CK_FUNCTION_LIST_PTR f = nullptr;
      CK_RV rv = get ? get(&f) : CKR_FUNCTION_FAILED;
      if (rv == CKR_OK && f) {
        CK_C_INITIALIZE_ARGS args{};
        args.flags = CKF_OS_LOCKING_OK;
        rv = f->C_Initialize(&args);
        if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) rv = CKR_OK;
      }
      if (rv != CKR_OK || !f) {
        ::dlclose(h);
        modules.erase(uri.module_path);
        return plugin::fail(plugin::errc::bad_config, "PKCS#11 module " + uri.module_path +
                                                          (get ? " failed to initialise: " + rv_name(rv)
                                                               : std::string(" has no C_GetFunctionList")));
      }
      m.handle = h;
      m.f = f;
    }
    ++m.users;
    mod = &m;
    return {};
  }

  void close_session() {
    if (session_open) mod->f->C_CloseSession(session);
    session_open = false;
  }

  plugin::result<CK_SLOT_ID> find_slot() {
    CK_ULONG n = 0;
    if (CK_RV rv = mod->f->C_GetSlotList(CK_TRUE, nullptr, &n); rv != CKR_OK) return fail(rv, "listing slots");
    std::vector<CK_SLOT_ID> slots(n);
    if (CK_RV rv = mod->f->C_GetSlotList(CK_TRUE, slots.data(), &n); rv != CKR_OK) return fail(rv, "listing slots");
    slots.resize(n);
    for (auto slot : slots) {
      CK_TOKEN_INFO info{};
      if (mod->f->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
      if (!uri.token.empty() && padded(info.label, sizeof info.label) != uri.token) continue;
      if (!uri.serial.empty() && padded(info.serialNumber, sizeof info.serialNumber) != uri.serial) continue;
      return slot;
    }
    return plugin::fail(plugin::errc::bad_config, "PKCS#11 " + what + ": no token of module " + uri.module_path +
                                                      " matches (signers.kms.kmsref token=/serial=)");
  }

  plugin::result<std::string> read_pin() const {
    if (uri.pin_source.empty()) return uri.pin_value;
    std::ifstream in(uri.pin_source, std::ios::binary);
    std::string pin;
    if (in) std::getline(in, pin, '\0');
    if (!in && !in.eof())
      return plugin::fail(plugin::errc::bad_config, "PKCS#11 " + what + ": pin-source " + uri.pin_source + " cannot be read");
    while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r')) pin.pop_back();
    return pin;
  }

  // The one object of `cls` matching the URI's object= and id=.
  plugin::result<CK_OBJECT_HANDLE> find(CK_OBJECT_CLASS cls, const char* kind) {
    std::vector<CK_ATTRIBUTE> tmpl{{CKA_CLASS, &cls, sizeof cls}};
    if (!uri.object.empty()) tmpl.push_back({CKA_LABEL, uri.object.data(), uri.object.size()});
    if (!uri.id.empty()) tmpl.push_back({CKA_ID, uri.id.data(), uri.id.size()});
    if (CK_RV rv = mod->f->C_FindObjectsInit(session, tmpl.data(), tmpl.size()); rv != CKR_OK)
      return fail(rv, std::string("finding the ") + kind);
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    CK_RV rv = mod->f->C_FindObjects(session, found, 2, &n);
    mod->f->C_FindObjectsFinal(session);
    if (rv != CKR_OK) return fail(rv, std::string("finding the ") + kind);
    if (n != 1)
      return plugin::fail(plugin::errc::bad_config, "PKCS#11 " + what + ": " +
                                                        (n ? "more than one " : "no ") + kind +
                                                        " matches signers.kms.kmsref (object=/id=)");
    return found[0];
  }

  plugin::result<std::string> attribute(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, const char* name) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    if (CK_RV rv = mod->f->C_GetAttributeValue(session, obj, &a, 1); rv != CKR_OK) return fail(rv, std::string("reading ") + name);
    std::string v(a.ulValueLen, '\0');
    a.pValue = v.data();
    if (CK_RV rv = mod->f->C_GetAttributeValue(session, obj, &a, 1); rv != CKR_OK) return fail(rv, std::string("reading ") + name);
    v.resize(a.ulValueLen);
    return v;
  }

  plugin::result<std::shared_ptr<public_key>> read_public_key(CK_OBJECT_HANDLE obj) {
    auto params = attribute(obj, CKA_EC_PARAMS, "CKA_EC_PARAMS");
    if (!params) return params.error();
    if (*params != p256_params)
      return plugin::fail(plugin::errc::bad_config, "PKCS#11 " + what + ": the key is not on curve P-256 (only "
                                                                        "ECDSA P-256 keys are supported)");
    auto point = attribute(obj, CKA_EC_POINT, "CKA_EC_POINT");
    if (!point) return point.error();
    std::string p = *point;
    if (p.size() == 67 && p[0] == '\x04' && p[1] == '\x41') p.erase(0, 2);  // DER OCTET STRING, as the spec says
    if (p.size() != 65 || p[0] != '\x04')
      return plugin::fail(plugin::errc::bad_config, "PKCS#11 " + what + ": CKA_EC_POINT is not an uncompressed P-256 point");
    try {
      return std::make_shared<public_key>(public_key_from_der(p256_spki_prefix + p));
    } catch (const key_error& e) {
      return plugin::fail(plugin::errc::bad_config, "PKCS#11 " + what + ": " + e.what());
    }
  }

  plugin::result<void> open() {
    if (auto m = load_module(); !m) return m.error();
    auto slot = find_slot();
    if (!slot) return slot.error();
    if (CK_RV rv = mod->f->C_OpenSession(*slot, CKF_SERIAL_SESSION, nullptr, nullptr, &session); rv != CKR_OK)
      return fail(rv, "opening a session");
    session_open = true;
    if (uri.has_pin) {
      auto pin = read_pin();
      if (!pin) return pin.error();
      // A hardware token locks the user PIN after a few wrong tries: a refused PIN is not sent again
      // (each run would spend one try) until the pin-source file or the config changes it.
      if (refused_pin == *pin)
        return plugin::fail(plugin::errc::unauthenticated, "PKCS#11 " + what + ": the token refused this PIN before; "
                                                           "not tried again until it changes (pin-source or signers.kms.kmsref)");
      CK_RV rv = mod->f->C_Login(session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin->data()), pin->size());
      if (rv == CKR_PIN_INCORRECT) refused_pin = *pin;
      if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) return fail(rv, "logging in (the PIN of signers.kms.kmsref)");
      refused_pin.reset();
    }
    auto priv = find(CKO_PRIVATE_KEY, "private key");
    if (!priv) return priv.error();
    auto type = attribute(*priv, CKA_KEY_TYPE, "CKA_KEY_TYPE");
    if (!type) return type.error();
    CK_KEY_TYPE kt = CKK_RSA;
    if (type->size() == sizeof kt) std::memcpy(&kt, type->data(), sizeof kt);
    if (kt != CKK_EC)
      return plugin::fail(plugin::errc::bad_config, "PKCS#11 " + what + ": the private key is not an EC key");
    auto pubobj = find(CKO_PUBLIC_KEY, "public key");
    if (!pubobj) return pubobj.error();
    auto k = read_public_key(*pubobj);
    if (!k) return k.error();
    if (pub && pub->pem != (*k)->pem)
      return plugin::fail(plugin::errc::permanent, "PKCS#11 " + what + ": the token now holds another key than the one "
                                                                       "first read; restart or reload to use it");
    if (!pub) pub = *k;
    key = *priv;
    return {};
  }
};

pkcs11_token::pkcs11_token(pkcs11_uri uri, std::string what) : s_(std::make_unique<state>()) {
  s_->uri = std::move(uri);
  s_->what = std::move(what);
}

pkcs11_token::~pkcs11_token() {
  if (!s_->mod) return;
  s_->close_session();
  std::lock_guard lock(modules_mu);
  if (--s_->mod->users == 0) {
    s_->mod->f->C_Finalize(nullptr);
    ::dlclose(s_->mod->handle);
    modules.erase(s_->uri.module_path);
  }
}

plugin::result<std::string> pkcs11_token::ensure() {
  if (!s_->session_open) {
    auto r = s_->open();
    if (!r) {
      s_->close_session();
      return r.error();
    }
  }
  return s_->pub->pem;
}

std::string pkcs11_token::pem() const { return s_->pub ? s_->pub->pem : std::string(); }

plugin::result<std::string> pkcs11_token::sign(const std::string& message) {
  if (auto r = ensure(); !r) return r.error();
  auto digest = sha256(message);
  CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
  CK_RV rv = s_->mod->f->C_SignInit(s_->session, &mech, s_->key);
  unsigned char raw[132];
  CK_ULONG n = sizeof raw;
  if (rv == CKR_OK)
    rv = s_->mod->f->C_Sign(s_->session, reinterpret_cast<CK_BYTE_PTR>(digest.data()), digest.size(), raw, &n);
  if (rv != CKR_OK) {
    auto e = s_->fail(rv, "signing (CKM_ECDSA)");
    if (e.code == plugin::errc::retryable) s_->close_session();
    return e;
  }
  auto der = azure::raw_to_der(std::string_view(reinterpret_cast<const char*>(raw), n));
  if (der.empty() || !verifies(*s_->pub, message, der))
    return plugin::fail(plugin::errc::permanent, "PKCS#11 " + s_->what + " returned a signature that does not verify "
                                                                         "with its public key; nothing was signed");
  return der;
}

}  // namespace signer_kms
