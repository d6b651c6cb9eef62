// The challenge sources a config describes ([[scep.webhooks]] in order), for scep::Enrollment.
#pragma once

#include "app/config.hpp"
#include "app/mdm/intune_revocation.hpp"
#include "app/mdm/jamf_endpoint.hpp"
#include "ca/event.hpp"
#include "ca/registry.hpp"
#include "scep/challenge_source.hpp"

#include <memory>
#include <string>
#include <vector>

namespace portcullis::app {

// A secret kept in a file of its own: the content without surrounding whitespace (editors
// add a newline). Throws std::runtime_error naming the file (never its content) when it
// cannot be read or is empty.
std::string read_secret_file(const std::string& path, const std::string& what);

// [[scep.webhooks]] in order, then [mdm.intune] when it is on. Throws std::runtime_error for
// a secret file it cannot read, std::invalid_argument for a URL or credential it cannot use.
std::vector<std::shared_ptr<scep::ChallengeSource>> challenge_sources(const Config& config);

// [mdm.intune]'s revocation sync, or null when Intune is off or revocation_sync_seconds is 0.
// Throws as challenge_sources.
std::unique_ptr<IntuneRevocationSync> intune_revocation_sync(const Config& config, ca::Registry& registry,
                                                             ca::EventSink* events);

// [mdm.jamf]'s endpoint, or null when it is off. Throws std::runtime_error for a password
// file it cannot read.
std::unique_ptr<JamfChallengeEndpoint> jamf_endpoint(const Config& config, ca::Registry& registry);

}  // namespace portcullis::app
