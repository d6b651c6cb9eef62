// The ChallengeQuery a PKCSReq makes (scep/challenge_source.hpp): what a challenge source
// is shown of the request.
#pragma once

#include "scep/challenge_source.hpp"
#include "scep/pki_message.hpp"

#include <string_view>

namespace portcullis::scep {

// `request` must carry a CSR (PKCSReq, RenewalReq). `requester`: the peer's address.
ChallengeQuery challenge_query(const PkiRequest& request, std::string_view requester);

}  // namespace portcullis::scep
