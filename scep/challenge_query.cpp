#include "scep/challenge_query.hpp"

#include "ca/issued_names.hpp"
#include "ca/x509.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace portcullis::scep {
namespace {

// The SANs the CSR asks for (RFC 2985 §5.4.2 extensionRequest), "dns:x" and so on; a
// type without a text form is shown as such, an undecodable extension as nothing.
std::vector<std::string> requested_sans(X509_REQ* csr) {
  std::vector<std::string> out;
  ca::X509ExtensionStackPtr exts(X509_REQ_get_extensions(csr));
  if (exts) {
    ca::GeneralNamesPtr sans(
        static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      std::string san = ca::lowercase_san_type(ca::general_name_to_string(sk_GENERAL_NAME_value(sans.get(), i)));
      out.push_back(san.empty() ? "other:" : std::move(san));
    }
  }
  ERR_clear_error();
  return out;
}

}  // namespace

std::string request_pem(const ca::Bytes& der) {
  ca::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "", der.data(), static_cast<long>(der.size())) <= 0) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

ChallengeQuery challenge_query(const PkiRequest& request, std::string_view requester) {
  ChallengeQuery q;
  q.challenge = request.challenge_password;
  q.transaction_id = request.transaction_id;
  q.csr_pem = request_pem(request.message_data);
  if (request.csr) {
    q.subject = ca::name_to_string(X509_REQ_get_subject_name(request.csr.get()));
    q.sans = requested_sans(request.csr.get());
  }
  q.requester = std::string(requester);
  return q;
}

}  // namespace portcullis::scep
