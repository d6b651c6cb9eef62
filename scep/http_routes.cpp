// SCEP HTTP transport (RFC 8894 §4). See http_routes.hpp for the table.
#include "scep/http_routes.hpp"

#include "ca/base64.hpp"
#include "ca/ledger/errors.hpp"
#include "ca/log_text.hpp"
#include "ca/text_codec.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cctype>
#include <optional>

namespace portcullis::scep {
namespace {

// RFC 8894 §3.5.2. DES3 is advertised because we accept it; single DES never is, even
// when allowed for legacy clients that use it regardless. GetNextCACert is added while a
// CA rollover is staged (§3.5.2: a client may only ask for it when it is advertised).
// SHA-384 (accepted anyway) is advertised for strongSwan pki 5.9.8 (Debian 12): it tests
// its capability flags with the enum *indexes* (SCEP_CAPS_AES = 0, SCEP_CAPS_SCEPSTANDARD
// = 8), so "AES or SCEPStandard" there really asks for bit 3, which is SHA-384. Without
// it, `pki --scep --cipher aes` refuses with "AES_CBC encryption algorithm not supported".
constexpr const char* kCapabilities =
    "POSTPKIOperation\nSHA-256\nSHA-384\nSHA-512\nAES\nDES3\nSCEPStandard\nRenewal\n";

HttpResponse plain(int status, std::string text) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(text) + "\n", ""};
}

// The raw value of `key` in the query string; the last one wins, as in ca::parse_query.
std::optional<std::string_view> query_value(std::string_view query, std::string_view key) {
  std::optional<std::string_view> found;
  for (const auto& [k, v] : ca::split_query(query))
    if (k == key) found = v;
  return found;
}

// RFC 8894 §4.2.1.2: RA certificate plus the CA certificate(s). The RA comes first;
// clients tell the two apart by basicConstraints and key usage.
std::vector<const X509*> ra_and_chain(const ca::Authority& authority) {
  std::vector<const X509*> certs{authority.ra()};
  for (const auto& cert : authority.chain()) certs.push_back(cert.get());
  return certs;
}

}  // namespace

std::optional<std::string> decode_get_message(std::string_view value) {
  // '+' is never a space here (see the declaration).
  const auto decoded = ca::percent_decode(value);
  if (!decoded) return std::nullopt;
  std::string compact;
  compact.reserve(decoded->size());
  for (const char c : *decoded)
    if (!std::isspace(static_cast<unsigned char>(c))) compact.push_back(c);
  return ca::base64_decode(compact, ca::Base64Alphabet::either, ca::Base64Strictness::lenient);
}

HttpRoutes::HttpRoutes(Enrollment& enrollment, const ca::Authority& authority, std::size_t max_message_bytes)
    : enrollment_(enrollment),
      authority_(authority),
      max_message_bytes_(max_message_bytes),
      malformed_log_("unreadable PKIOperation",
                     SourceLogLimitSettings{enrollment.settings().refusals.rows_per_source_per_minute,
                                            enrollment.settings().refusals.max_sources,
                                            enrollment.settings().refusals.clock}) {
  const ca::Bytes der = degenerate_pkcs7(ra_and_chain(authority));
  ca_certs_.assign(der.begin(), der.end());
  set_next_ca(nullptr);
}

void HttpRoutes::set_next_ca(const ca::Authority* next) {
  auto answers = std::make_shared<RolloverAnswers>();
  answers->capabilities = kCapabilities;
  if (next != nullptr) {
    answers->capabilities += "GetNextCACert\n";
    const std::vector<const X509*> current = ra_and_chain(authority_);   // RA first, then the chain
    const ca::Bytes der = next_ca_message(ra_and_chain(*next), authority_.ra(), authority_.ra_key(),
                                          std::span(current).subspan(1));
    answers->next_ca_certs.assign(der.begin(), der.end());
  }
  rollover_.store(std::move(answers));
}

HttpResponse HttpRoutes::handle(const HttpRequest& request) const {
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if (!get && !post) {
    HttpResponse response = plain(405, "method not allowed");
    response.allow = "GET, POST";
    return response;
  }
  // Values stay encoded here: `message` has its own rules (decode_get_message).
  const auto op = query_value(request.query, "operation");
  const std::string operation = op ? ca::percent_decode(*op).value_or("") : std::string();

  if (operation == "GetCACaps") {
    // Answered whatever the message= CA identifier says: §3.5.1 makes it optional, and
    // clients send none, an empty one or a name of their own.
    return HttpResponse{200, "text/plain", rollover_.load()->capabilities, ""};
  }
  if (operation == "GetCACert") {
    if (!get) return plain(405, "GetCACert is a GET");
    return HttpResponse{200, "application/x-x509-ca-ra-cert", ca_certs_, ""};
  }
  if (operation == "GetNextCACert") {
    if (!get) return plain(405, "GetNextCACert is a GET");
    const auto answers = rollover_.load();
    if (answers->next_ca_certs.empty()) return plain(404, "no CA rollover is staged");
    return HttpResponse{200, "application/x-x509-next-ca-cert", answers->next_ca_certs, ""};
  }
  if (operation != "PKIOperation") return plain(400, "unknown or missing operation");

  if (post) {
    if (request.body.size() > max_message_bytes_) return plain(413, "message too large");
    return pki_operation(request.body, request.remote_address);
  }
  const auto message = query_value(request.query, "message");
  if (!message) return plain(400, "PKIOperation needs message=");
  // base64 is 4/3 of the DER; check before decoding to bound the work.
  if (message->size() / 4 * 3 > max_message_bytes_) return plain(414, "message too large");
  const auto der = decode_get_message(*message);
  if (!der) return plain(400, "message is not base64");
  return pki_operation(*der, request.remote_address);
}

HttpResponse HttpRoutes::pki_operation(std::string_view der, std::string_view remote_address) const {
  if (der.empty()) return plain(400, "empty message");
  try {
    const ca::Bytes reply = enrollment_.handle(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(der.data()), der.size()), remote_address);
    return HttpResponse{200, "application/x-pki-message", std::string(reply.begin(), reply.end()), ""};
  } catch (const MalformedMessage& e) {
    if (malformed_log_.allow(remote_address))
      spdlog::info("scep: unreadable PKIOperation message ({} bytes) from {}: {}", der.size(),
                   ca::log_safe(remote_address.empty() ? std::string_view("unknown") : remote_address),
                   ca::log_safe(e.what()));
    return plain(400, std::string("not a SCEP pkiMessage: ") + e.what());
  } catch (const ca::LedgerFull& e) {
    // Not a refusal (a CertRep FAILURE would end the transaction, RFC 8894 §3.3.2): the
    // same request is issued once space is freed, so the client should retry it.
    spdlog::error("scep: PKIOperation not done, the ledger's disk is full: {}", ca::log_safe(e.what()));
    return plain(503, "the CA's ledger is full: nothing was issued; retry later");
  } catch (const ca::LedgerUnavailable& e) {
    // The shared ledger's database is down (several nodes): as above, a retry will do.
    spdlog::error("scep: PKIOperation not done, the ledger database is unavailable: {}", ca::log_safe(e.what()));
    return plain(503, "the CA's ledger database is unavailable: nothing was issued; retry later");
  } catch (const std::exception& e) {
    // A server-side failure (ledger, signing key): no CertRep, and nothing was issued.
    spdlog::error("scep: PKIOperation failed: {}", ca::log_safe(e.what()));
    return plain(500, "internal error");
  }
}

}  // namespace portcullis::scep
