#include "app/radsec/setup.hpp"

#include "ca/x509.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace portcullis::app {
namespace {

std::shared_ptr<X509_STORE> trust_store(const std::string& ca_file) {
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
  if (!store) throw std::runtime_error("X509_STORE_new failed");
  std::vector<ca::X509Ptr> certs;
  try {
    certs = ca::certs_from_pem(ca::read_file(ca_file));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read RadSec ca_file '" + ca_file + "': " + e.what());
  }
  if (certs.empty()) throw std::runtime_error("RadSec ca_file '" + ca_file + "' holds no certificate");
  for (const auto& cert : certs)
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1)
      throw std::runtime_error("cannot trust a certificate of RadSec ca_file '" + ca_file + "'");
  return store;
}

}  // namespace

std::shared_ptr<const radius::radsec::RadsecClients> make_radsec_clients(const Config& config,
                                                                         radius::NasActivities* activities) {
  auto clients = std::make_shared<radius::radsec::RadsecClients>();
  for (const auto& setting : config.radius.clients) {
    if (setting.transport != "radsec") continue;
    radius::radsec::RadsecClient client;
    client.nas.name = setting.name;
    client.nas.address = setting.address.empty() ? "radsec" : setting.address;
    client.nas.secret = radius::radsec::kRadsecSecret;
    client.nas.require_message_authenticator = setting.require_message_authenticator;
    client.nas.coa_port = setting.coa_port;
    client.nas.groups = setting.groups;
    client.nas.sign_accounting_responses = false;  // see NasClient
    if (activities != nullptr) client.nas.activity = activities->for_name(setting.name);
    client.certificate_name = setting.certificate_name;
    if (!setting.address.empty()) client.source = radius::IpPrefix::parse(setting.address);
    if (!setting.ca_file.empty()) client.trusted_ca = trust_store(setting.ca_file);
    client.require_radius_1_1 = setting.require_radius_1_1;
    client.coa_secret = setting.coa_secret;
    client.dynauth_over_connection = setting.dynauth_over_connection;
    clients->add(std::move(client));
  }
  return clients;
}

std::shared_ptr<RadsecListener> start_radsec_listener(boost::asio::io_context& io, const Config& config,
                                                      const ca::Authority& authority,
                                                      const ca::IdentityView& identities, ca::Registry& registry,
                                                      radius::Server& server, ca::EventSink* events,
                                                      radius::NasActivities* activities) {
  if (!config.radsec.enabled) return nullptr;
  RadsecOptions options;
  options.bind = config.radsec.bind;
  options.port = config.radsec.port;
  options.max_connections = static_cast<std::size_t>(config.radsec.max_connections);
  options.max_connections_per_nas = static_cast<std::size_t>(config.radsec.max_connections_per_nas);
  options.idle_timeout = std::chrono::seconds(config.radsec.idle_timeout_seconds);
  options.handshake_timeout = std::chrono::seconds(config.radsec.handshake_timeout_seconds);
  options.events = events;
  const auto& versions = config.radsec.radius_versions;
  options.versions.v1_0 = std::find(versions.begin(), versions.end(), "1.0") != versions.end();
  options.versions.v1_1 = std::find(versions.begin(), versions.end(), "1.1") != versions.end();
  const ca::CaPaths& paths = authority.paths();
  RadsecTlsFiles tls{paths.server(), paths.server_key(), paths.chain(), {authority.issuing(), authority.root()}};
  auto clients = make_radsec_clients(config, activities);
  const std::size_t count = clients->size();
  auto listener = RadsecListener::create(
      io, options, tls, std::move(clients), identities,
      [&server](const radius::Datagram& d, const radius::NasClient& nas) { return server.handle(d, nas); });
  // A revoked NAS certificate, or its device disabled, closes its connections at once. Weak:
  // the observers outlive the listener.
  registry.on_revocation([weak = std::weak_ptr(listener)](const std::vector<ca::CertificateRecord>&) {
    if (auto l = weak.lock()) l->recheck();
  });
  registry.on_device_change([weak = std::weak_ptr(listener)](const ca::Device&) {
    if (auto l = weak.lock()) l->recheck();
  });
  listener->start();
  spdlog::info("radsec listener on {}:{} ({} RadSec client(s))", config.radsec.bind, listener->port(), count);
  return listener;
}

}  // namespace portcullis::app
