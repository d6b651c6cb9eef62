// Key generation and key facts. See keys.hpp.
#include "ca/keys.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <stdexcept>

namespace portcullis::ca {

KeyType parse_key_type(const std::string& name) {
  if (name == "ec-p256") return KeyType::ec_p256;
  if (name == "ec-p384") return KeyType::ec_p384;
  if (name == "rsa2048") return KeyType::rsa2048;
  if (name == "rsa3072") return KeyType::rsa3072;
  throw std::invalid_argument("unknown key type '" + name + "' (expected ec-p256, ec-p384, rsa2048 or rsa3072)");
}

std::string to_string(KeyType type) {
  switch (type) {
    case KeyType::ec_p256: return "ec-p256";
    case KeyType::ec_p384: return "ec-p384";
    case KeyType::rsa2048: return "rsa2048";
    case KeyType::rsa3072: return "rsa3072";
  }
  throw std::invalid_argument("invalid KeyType");
}

EvpPkeyPtr generate_key(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::ec_p256: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyType::ec_p384: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyType::rsa2048: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)); break;
    case KeyType::rsa3072: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(3072)); break;
  }
  return EvpPkeyPtr(check_ptr(key, "EVP_PKEY_Q_keygen"));
}

KeyType key_type_of(const EVP_PKEY* key) {
  if (is_rsa(key)) return EVP_PKEY_get_bits(key) > 2048 ? KeyType::rsa3072 : KeyType::rsa2048;
  return ec_curve_name(key) == "P-384" ? KeyType::ec_p384 : KeyType::ec_p256;
}

bool is_rsa(const EVP_PKEY* key) { return EVP_PKEY_is_a(key, "RSA") == 1; }
bool is_ec(const EVP_PKEY* key) { return EVP_PKEY_is_a(key, "EC") == 1; }

std::string ec_curve_name(const EVP_PKEY* key) {
  if (!is_ec(key)) return {};
  char group[80] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
    ERR_clear_error();  // explicit-parameter curves have no name: treat as unknown
    return {};
  }
  // OpenSSL reports the SECG/X9.62 names; profiles and configs use the NIST ones.
  const std::string name(group, len);
  if (name == "prime256v1" || name == "P-256") return "P-256";
  if (name == "secp384r1" || name == "P-384") return "P-384";
  if (name == "secp521r1" || name == "P-521") return "P-521";
  return name;
}

const EVP_MD* digest_for_key(const EVP_PKEY* key) {
  const std::string curve = ec_curve_name(key);
  if (curve == "P-384") return EVP_sha384();
  if (curve == "P-521") return EVP_sha512();
  return EVP_sha256();
}

bool key_matches_certificate(const X509* cert, const EVP_PKEY* key) {
  const int rc = X509_check_private_key(cert, key);
  ERR_clear_error();  // a mismatch leaves "key values mismatch" on the queue
  return rc == 1;
}

}  // namespace portcullis::ca
