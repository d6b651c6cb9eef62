#include "app/mdm/jamf_endpoint.hpp"

#include "ca/base64.hpp"
#include "ca/constant_time.hpp"
#include "scep/enrollment.hpp"

#include <spdlog/spdlog.h>

namespace portcullis::app {
namespace {

ca::Sha256 digest(std::string_view text) {
  return ca::sha256({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

HttpResponse plain(int status, std::string text) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(text), {}};
}

}  // namespace

JamfChallengeEndpoint::JamfChallengeEndpoint(JamfSettings settings, ca::Registry& registry)
    : settings_(std::move(settings)),
      user_digest_(digest(settings_.user)),
      password_digest_(digest(settings_.password)),
      registry_(registry) {
  if (settings_.user.empty() || settings_.password.empty())
    throw std::invalid_argument("the Jamf challenge endpoint needs a user and a password");
}

// RFC 7617: "Basic " base64(user ":" password). Both halves are compared, always, digest to
// digest in constant time (the password may hold ':' but the user may not, §2).
bool JamfChallengeEndpoint::authorized(const HttpRequest& request) const {
  const std::string* header = request.header("authorization");
  if (header == nullptr || header->size() < 6 || !std::equal(header->begin(), header->begin() + 6, "Basic ",
                                                               [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
    return false;
  std::string_view encoded(*header);
  encoded.remove_prefix(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  const auto decoded = ca::base64_decode(encoded, ca::Base64Alphabet::standard);
  if (!decoded) return false;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  const ca::Sha256 user = digest(std::string_view(*decoded).substr(0, colon));
  const ca::Sha256 password = digest(std::string_view(*decoded).substr(colon + 1));
  const bool user_ok = ca::constant_time_equal(user, user_digest_);
  const bool password_ok = ca::constant_time_equal(password, password_digest_);
  return user_ok & password_ok;
}

HttpResponse JamfChallengeEndpoint::handle(const HttpRequest& request) {
  if (request.method != "POST") {
    HttpResponse r = plain(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (!authorized(request)) {
    ++refused_;
    // Not logged per request: anyone can send bad credentials as often as they like; the
    // count is in the metrics.
    HttpResponse r = plain(401, "unauthorized\n");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"portcullis-jamf\", charset=\"UTF-8\"");
    return r;
  }
  try {
    const scep::MintedChallenge minted =
        scep::mint_unbound_challenge(registry_, settings_.profile, settings_.challenge_ttl_seconds, "jamf");
    ++minted_;
    spdlog::info("jamf: one-time challenge {} minted for {} (profile {}, expires in {} s)", minted.record.id,
                 request.remote_address, settings_.profile.name, settings_.challenge_ttl_seconds);
    // The body is the challenge alone, no newline: Jamf puts it into the profile as is.
    HttpResponse r = plain(200, minted.secret);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  } catch (const std::exception& e) {
    spdlog::error("jamf: cannot mint a challenge: {}", e.what());
    return plain(503, "cannot mint a challenge now\n");
  }
}

}  // namespace portcullis::app
