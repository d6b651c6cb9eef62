#include "radius/radsec/peer_auth.hpp"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace portcullis::radius::radsec {
namespace {

std::string common_name(const X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return {};
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

bool names(const X509* cert, const std::string& name) {
  if (common_name(cert) == name) return true;
  for (const auto& san : ca::subject_alt_names(cert))
    if (san == "DNS:" + name) return true;
  return false;
}

PeerVerdict refuse(PeerVerdict verdict, const char* code, std::string reason, int verify_error) {
  verdict.client = nullptr;
  verdict.code = code;
  verdict.reason = std::move(reason);
  verdict.verify_error = verify_error;
  return verdict;
}

}  // namespace

void RadsecClients::add(RadsecClient client) {
  if (client.certificate_name.empty()) throw std::invalid_argument("a RadSec client needs a certificate_name");
  const std::string name = client.certificate_name;
  if (!clients_.emplace(name, std::move(client)).second)
    throw std::invalid_argument("two RadSec clients with certificate_name '" + name + "'");
}

const RadsecClient* RadsecClients::by_name(const std::string& name) const {
  const auto it = clients_.find(name);
  return it == clients_.end() ? nullptr : &it->second;
}

const RadsecClient* RadsecClients::by_nas(const std::string& nas_name) const {
  for (const auto& [_, client] : clients_)
    if (client.nas.name == nas_name) return &client;
  return nullptr;
}

PeerVerdict RadsecClients::authorize(X509* cert, STACK_OF(X509)* chain, const IpAddress& source,
                                     const ca::IdentityView& identities, ca::UnixTime now) const {
  PeerVerdict verdict;
  unsigned int len = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), verdict.fingerprint.data(), &len) != 1 ||
      len != verdict.fingerprint.size())
    return refuse(std::move(verdict), "no_certificate", "no usable client certificate",
                  X509_V_ERR_APPLICATION_VERIFICATION);
  verdict.cn = common_name(cert);
  verdict.serial = ca::serial_hex(cert);
  if (const X509_NAME* issuer = X509_get_issuer_name(cert)) verdict.issuer = ca::name_to_string(issuer);
  const ca::Identity identity = identities.by_fingerprint(verdict.fingerprint, now);
  if (identity.verdict != ca::IdentityVerdict::unknown) {
    verdict.ours = true;
    verdict.device = identity.device_name;
    return authorize_ours(std::move(verdict), identity, source);
  }
  return authorize_foreign(std::move(verdict), cert, chain, source);
}

PeerVerdict RadsecClients::authorize_ours(PeerVerdict verdict, const ca::Identity& identity,
                                          const IpAddress& source) const {
  if (const RadsecClient* named = by_name(identity.device_name)) verdict.nas = named->nas.name;
  if (identity.verdict != ca::IdentityVerdict::good)
    return refuse(std::move(verdict), ca::to_string(identity.verdict), std::string("NAS certificate ") + ca::to_string(identity.verdict),
                  ca::x509_verify_error(identity.verdict));
  // A device certificate of ours must not make its holder a NAS.
  if (identity.profile != kNasProfile)
    return refuse(std::move(verdict), "not_nas_profile", "certificate of profile '" + identity.profile + "', not '" + kNasProfile + "'",
                  X509_V_ERR_INVALID_PURPOSE);
  const RadsecClient* client = by_name(identity.device_name);
  if (client == nullptr)
    return refuse(std::move(verdict), "no_client", "no RadSec client has certificate_name '" + identity.device_name + "'",
                  X509_V_ERR_CERT_REJECTED);
  if (client->source && !client->source->contains(source))
    return refuse(std::move(verdict), "source_address", "NAS " + client->nas.name + " connected from " + source.to_string() +
                                          ", outside its address " + client->nas.address,
                  X509_V_ERR_CERT_REJECTED);
  verdict.client = client;
  return verdict;
}

PeerVerdict RadsecClients::authorize_foreign(PeerVerdict verdict, X509* cert, STACK_OF(X509)* chain,
                                             const IpAddress& source) const {
  for (const auto& [name, client] : clients_) {
    if (!client.trusted_ca || !names(cert, name)) continue;
    verdict.nas = client.nas.name;
    ca::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), client.trusted_ca.get(), cert, chain) != 1) continue;
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(ctx.get()) != 1)
      return refuse(std::move(verdict), "untrusted_certificate",
                    "certificate for '" + name + "' does not verify against its trusted CA: " +
                        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())),
                    X509_STORE_CTX_get_error(ctx.get()));
    if (client.source && !client.source->contains(source))
      return refuse(std::move(verdict), "source_address", "NAS " + client.nas.name + " connected from " + source.to_string() +
                                            ", outside its address " + client.nas.address,
                    X509_V_ERR_CERT_REJECTED);
    verdict.client = &client;
    return verdict;
  }
  return refuse(std::move(verdict), "unknown_issuer", "certificate '" + common_name(cert) +
                                        "' is not ours and names no RadSec client with a trusted CA",
                X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

bool RadsecClients::still_good(const PeerVerdict& verdict, const ca::IdentityView& identities,
                               ca::UnixTime now) const {
  if (!verdict.ours) return true;
  return identities.by_fingerprint(verdict.fingerprint, now).verdict == ca::IdentityVerdict::good;
}

}  // namespace portcullis::radius::radsec
