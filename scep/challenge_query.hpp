// The ChallengeQuery a PKCSReq makes (scep/challenge_source.hpp): what a challenge source
// is shown of the request.
#pragma once

#include "scep/challenge_source.hpp"
#include "scep/pki_message.hpp"

#include <string_view>

namespace portcullis::scep {

// `request` must carry a CSR (PKCSReq, RenewalReq). `requester`: the peer's address.
ChallengeQuery challenge_query(const PkiRequest& request, std::string_view requester);

// PEM of a PKCS#10 DER exactly as received (not re-encoded): a source that checks the
// request's signature sees the bytes the device signed. Empty if it cannot be written.
std::string request_pem(const ca::Bytes& der);

}  // namespace portcullis::scep
