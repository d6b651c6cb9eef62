// SCEP over HTTP (RFC 8894 §4): /scep and any path below it (Windows clients append
// /pkiclient.exe), mounted on the public listener (app/http/public_routes).
//   GET  ?operation=GetCACaps              text/plain, one capability a line (§3.5.2)
//   GET  ?operation=GetCACert              application/x-x509-ca-ra-cert: RA + CA chain (§4.2.1.2)
//   GET  ?operation=GetNextCACert          application/x-x509-next-ca-cert, once a CA rollover is
//                                          staged (§4.7); advertised in GetCACaps only then
//   GET  ?operation=PKIOperation&message=  base64 pkiMessage                          (§4.3)
//   POST ?operation=PKIOperation           DER pkiMessage, application/x-pki-message  (§4.3)
// Replies to PKIOperation are application/x-pki-message. Only transport errors are HTTP
// errors (4xx); everything that can be answered with a CertRep is.
#pragma once

#include "ca/authority.hpp"
#include "scep/enrollment.hpp"
#include "scep/http_exchange.hpp"
#include "scep/source_log_limit.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis::scep {

class HttpRoutes {
 public:
  // `max_message_bytes`: larger PKIOperation messages get 413 (a CSR-carrying
  // pkiMessage is a few KiB; the public listener has its own overall body limit).
  HttpRoutes(Enrollment& enrollment, const ca::Authority& authority, std::size_t max_message_bytes = 1 << 20);

  // Thread-safe; never throws.
  HttpResponse handle(const HttpRequest& request) const;

  // The staged next CA (ca::Authority::load_staged), or nullptr when none is staged any
  // more; only read during the call. Safe while requests are served: the answers are
  // swapped in one step.
  void set_next_ca(const ca::Authority* next);

  // The log lines of unreadable PKIOperations (HTTP 400): every one counted in `seen`,
  // those over the per-source limit in `suppressed` (the requests themselves are counted
  // in EnrollmentCounters::malformed).
  SourceLogLimitCounters malformed_log_counters() const { return malformed_log_.counters(); }

 private:
  // What depends on a staged rollover: the capability list and the signed answer.
  struct RolloverAnswers {
    std::string capabilities;
    std::string next_ca_certs;   // empty: nothing staged
  };

  // `remote_address`: the peer, for the per-source limit on refusal audit rows.
  HttpResponse pki_operation(std::string_view der, std::string_view remote_address) const;

  Enrollment& enrollment_;
  const ca::Authority& authority_;
  std::size_t max_message_bytes_;
  std::string ca_certs_;   // the GetCACert answer, built once
  std::atomic<std::shared_ptr<const RolloverAnswers>> rollover_;
  // Under the refusals' per-source limit: anyone can send garbage as often as they like.
  mutable SourceLogLimit malformed_log_;
};

// The GET `message=` value (RFC 8894 §4.3): percent-decoded, whitespace stripped, standard
// or URL-safe base64, padding optional and not checked, nor the bits after the last octet
// (the CMS signature protects the message, not its text). '+' is never a space: macOS
// sends '+' and '/' unescaped. nullopt when it is not base64.
std::optional<std::string> decode_get_message(std::string_view value);

}  // namespace portcullis::scep
