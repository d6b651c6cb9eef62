// CSR parsing (PEM or DER, RFC 2986) and profile application (ca/issuer, ca/issued_names):
// the checks the Issuer runs before signing, on the requested extensions, key and names.
// A CSR that parses is re-signed with a fixed key so the fuzzer gets past the
// proof-of-possession check to the profile rules. Input: one octet (profile, re-sign),
// then the device name, the CN and comma-separated pinned SANs on three lines, then the CSR.
#include "ca/issued_names.hpp"
#include "ca/issuer.hpp"
#include "ca/x509.hpp"
#include "support/ca_stack.hpp"

#include <openssl/err.h>

#include <sstream>
#include <string_view>

using namespace portcullis;

namespace {

std::string_view next_line(std::string_view& rest) {
  const std::size_t nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t c = s.find(',');
    out.emplace_back(s.substr(0, c));
    if (c == std::string_view::npos) break;
    s = s.substr(c + 1);
  }
  return out;
}

EVP_PKEY* resigning_key() {
  static EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  auto& issuer = fuzz::CaStack::get().issuer();
  static const char* const profiles[] = {"device", "server", "user", "no-such-profile"};
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string device(next_line(rest));
  const std::string cn(next_line(rest));
  const std::vector<std::string> pinned = split_commas(next_line(rest));

  for (const std::string& san : pinned) {
    try {
      (void)ca::parse_san(san);
      (void)ca::lowercase_san_type(san);
    } catch (const std::invalid_argument&) {
    }
  }

  ca::IssueRequest request;
  request.csr = std::string(rest);
  request.profile = profiles[data[0] & 3];
  ca::X509ReqPtr resigned;
  if ((data[0] & 4) != 0) {
    try {
      resigned = ca::csr_from_pem_or_der(request.csr);
      if (X509_REQ_set_pubkey(resigned.get(), resigning_key()) != 1 ||
          X509_REQ_sign(resigned.get(), resigning_key(), EVP_sha256()) <= 0) {
        resigned.reset();
      }
    } catch (const std::invalid_argument&) {
    }
    ERR_clear_error();
    request.parsed_csr = resigned.get();
  }
  try {
    request.names = issuer.names_for(request.profile, device, cn, pinned);
    issuer.check(request);
  } catch (const ca::IssuanceRejected&) {
  }
  ERR_clear_error();
  return 0;
}
