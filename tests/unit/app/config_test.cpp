#include "app/config.hpp"
#include "app/join.hpp"
#include "app/ledger_open.hpp"
#include "app/secrets.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

namespace portcullis::app {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("portcullis-config-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& text) {
    const std::string path = (dir_ / "portcullis.toml").string();
    std::ofstream(path) << text;
    return path;
  }

  ConfigTemplate sample() const {
    ConfigTemplate t;
    t.hostname = "radius.example.net";
    t.bind = "127.0.0.1";
    t.http_port = 18080;
    t.admin_port = 18443;
    t.radius_port = 11812;
    t.admin_token_sha256 = sha256_hex("token");
    t.radius_secret = "0123456789abcdefghij";
    return t;
  }

  fs::path dir_;
};

TEST_F(ConfigTest, RenderedTemplateLoadsWithEveryValue) {
  const Config c = load_config(write(render_config(sample())));
  EXPECT_EQ(c.service.hostname, "radius.example.net");
  EXPECT_EQ(c.http.port, 18080);
  EXPECT_EQ(c.http.public_url, "http://radius.example.net:18080");
  EXPECT_EQ(c.admin.port, 18443);
  EXPECT_FALSE(c.admin_tls_effective());
  ASSERT_EQ(c.admin.tokens.size(), 1u);
  EXPECT_EQ(c.admin.tokens[0].sha256, sha256_hex("token"));
  EXPECT_EQ(c.radius.auth_port, 11812);
  EXPECT_EQ(c.radius.acct_port, 11813);
  ASSERT_EQ(c.radius.clients.size(), 1u);
  EXPECT_TRUE(c.radius.clients[0].require_message_authenticator);
  EXPECT_EQ(c.radius.clients[0].coa_port, 3799);
  // Relative paths resolve against the config's own folder.
  EXPECT_EQ(c.ca.dir, (dir_ / "ca").string());
  EXPECT_EQ(c.ledger.path, (dir_ / "ledger.db").string());
  EXPECT_EQ(c.admin.token_file, (dir_ / "admin.token").string());
  ASSERT_TRUE(c.profiles.count("device"));
  EXPECT_EQ(c.profiles.at("device").extended_key_usage, std::vector<std::string>{"clientAuth"});
  EXPECT_EQ(c.profiles.at("server").validity_days, 730);
}

TEST_F(ConfigTest, PolicyFileAndNasGroups) {
  // The template names no policy file (every valid device accepted) and no NAS groups.
  const Config plain = load_config(write(render_config(sample())));
  EXPECT_EQ(plain.policy.file, "");
  EXPECT_TRUE(plain.radius.clients.at(0).groups.empty());

  std::string text = render_config(sample());
  text.replace(text.find("groups = []"), 11, "groups = [\"campus\", \"wlc\"]");
  text.replace(text.find("\nfile = \"\"") + 1, 9, "file = \"rules/policy.toml\"");
  const Config c = load_config(write(text));
  EXPECT_EQ(c.policy.file, (dir_ / "rules" / "policy.toml").string());  // relative to the config
  EXPECT_EQ(c.radius.clients.at(0).groups, (std::vector<std::string>{"campus", "wlc"}));

  try {
    load_config(write(render_config(sample()) + "\n[policy]\n"));
    FAIL() << "a second [policy] table was accepted";
  } catch (const std::exception&) {
  }
  std::string typo = render_config(sample());
  typo.replace(typo.find("\nfile = \"\"") + 1, 9, "files = \"p.toml\"");
  try {
    load_config(write(typo));
    FAIL() << "policy.files accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown setting policy.files"), std::string::npos) << e.what();
  }
  std::string bad_groups = render_config(sample());
  bad_groups.replace(bad_groups.find("groups = []"), 11, "groups = \"campus\"");
  EXPECT_THROW(load_config(write(bad_groups)), ConfigError);
}

// A config written before names came from templates lists subject_attributes in each
// profile: it still loads (the key is ignored, with a warning), and the template applies.
TEST_F(ConfigTest, AnEarlierConfigWithSubjectAttributesStillLoads) {
  std::string text = render_config(sample());
  const std::string anchor = "subject_template = [\"CN={cn}\"]";
  text.replace(text.find(anchor), anchor.size(), "subject_attributes = [\"CN\", \"O\", \"OU\"]");
  const Config c = load_config(write(text));
  EXPECT_EQ(c.profiles.at("device").subject_template, std::vector<std::string>{"CN={cn}"});
}

TEST_F(ConfigTest, EveryOptionInTheTemplateCarriesAComment) {
  const std::string text = render_config(sample());
  std::istringstream lines(text);
  std::string line;
  int settings = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '[') continue;
    ++settings;
  }
  EXPECT_GT(settings, 30);
  EXPECT_NE(text.find("# BlastRADIUS"), std::string::npos);
}

TEST_F(ConfigTest, UnknownKeyIsRefusedWithItsLine) {
  std::string text = render_config(sample());
  text.replace(text.find("require_message_authenticator"), 29, "require_message_authenticater");
  try {
    load_config(write(text));
    FAIL() << "a misspelt setting must not load";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unknown setting radius.clients.require_message_authenticater"), std::string::npos) << what;
    EXPECT_NE(what.find("portcullis.toml:"), std::string::npos) << what;
  }
}

// A misspelt table is as dangerous as a misspelt key: `[[radius.client]]` would otherwise
// load as no NAS at all, and `[service.limits]` as every default.
TEST_F(ConfigTest, UnknownTablesAndArraysOfTablesAreRefusedWithTheirLine) {
  const std::string base = render_config(sample());
  const auto line_after_base = std::to_string(std::count(base.begin(), base.end(), '\n') + 2);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[[radius.client]]\nname = \"wlc\"\naddress = \"10.0.0.1\"\n", "unknown array of tables [[radius.client]]"},
      {"[servcie]\nthreads = 2\n", "unknown section [servcie]"},
      {"[[servcie]]\nthreads = 2\n", "unknown section [servcie]"},
      {"[service.limits]\nthreads = 2\n", "unknown table [service.limits]"},
      {"[[admin.token]]\nname = \"ops\"\n", "unknown array of tables [[admin.token]]"},
      {"[admin.tokens.extra]\nx = 1\n", "unknown table [admin.tokens.extra]"},
      {"[radius.clients.extra]\nx = 1\n", "unknown table [radius.clients.extra]"},
      {"[profiles.device.san]\nx = 1\n", "unknown table [profiles.device.san]"},
      {"[http.limits]\nmax_connections = 5\n", "unknown table [http.limits]"},
  };
  for (const auto& [extra, expected] : cases) {
    try {
      load_config(write(base + "\n" + extra));
      ADD_FAILURE() << "loaded with " << extra;
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(expected), std::string::npos) << what;
      EXPECT_NE(what.find("portcullis.toml:" + line_after_base + ":"), std::string::npos) << what;
    }
  }
  // A key that is a table where a value belongs is refused too, as an unknown setting
  // would be (the known sections still load).
  EXPECT_THROW(load_config(write("[service]\nhostname = { name = \"x\" }\n")), ConfigError);
}

// Connection caps and header deadlines, each listener its own, and the admin handler pool.
TEST_F(ConfigTest, HttpListenerCapsHaveDefaultsAndAreValidated) {
  const Config c = load_config(write(render_config(sample())));
  EXPECT_EQ(c.http.max_connections, 512);
  EXPECT_EQ(c.http.max_connections_per_address, 64);
  EXPECT_EQ(c.http.header_timeout_seconds, 10);
  EXPECT_EQ(c.admin.max_connections, 64);
  EXPECT_EQ(c.admin.max_connections_per_address, 32);
  EXPECT_EQ(c.admin.header_timeout_seconds, 10);
  EXPECT_EQ(c.admin.workers, 4);
  const Config tuned = load_config(write("[http]\nmax_connections = 2000\nmax_connections_per_address = 5\n"
                                         "header_timeout_seconds = 3\n[admin]\nworkers = 1\nmax_connections = 8\n"));
  EXPECT_EQ(tuned.http.max_connections, 2000);
  EXPECT_EQ(tuned.http.max_connections_per_address, 5);
  EXPECT_EQ(tuned.http.header_timeout_seconds, 3);
  EXPECT_EQ(tuned.admin.workers, 1);
  EXPECT_EQ(tuned.admin.max_connections, 8);
  for (const char* bad : {"[http]\nmax_connections = 0\n", "[http]\nmax_connections_per_address = -1\n",
                          "[http]\nheader_timeout_seconds = 0\n", "[http]\nheader_timeout_seconds = 301\n",
                          "[admin]\nworkers = 0\n", "[admin]\nmax_connections = 0\n",
                          "[admin]\nheader_timeout_seconds = 3600\n"}) {
    EXPECT_THROW(load_config(write(bad)), ConfigError) << bad;
  }
}

TEST_F(ConfigTest, ManualApprovalIsOffByDefaultAndSetPerProfile) {
  const Config rendered = load_config(write(render_config(sample())));
  EXPECT_FALSE(rendered.profiles.at("device").manual_approval);
  EXPECT_FALSE(rendered.profiles.at("server").manual_approval);
  const Config held = load_config(write("[profiles.byod]\nmanual_approval = true\n"));
  EXPECT_TRUE(held.profiles.at("byod").manual_approval);
  EXPECT_FALSE(held.profiles.at("device").manual_approval);
  EXPECT_THROW(load_config(write("[profiles.device]\nmanual_approval = \"yes\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[profiles.device]\nmanual_aproval = true\n")), ConfigError);
}

TEST_F(ConfigTest, ScepWebhooksLoadInOrderWithResolvedFiles) {
  const Config c = load_config(write(
      "[[scep.webhooks]]\nurl = \"https://mdm.example/validate\"\nsecret_file = \"hook.secret\"\n"
      "[[scep.webhooks]]\nurl = \"http://127.0.0.1:9000/n\"\nrole = \"notify\"\nsecret_file = \"/etc/s\"\n"
      "bearer_token_file = \"t\"\ntimeout_ms = 700\nnotify_attempts = 3\n"));
  ASSERT_EQ(c.scep.webhooks.size(), 2u);
  EXPECT_EQ(c.scep.webhooks[0].role, "validate");
  EXPECT_EQ(c.scep.webhooks[0].timeout_ms, 5000);
  EXPECT_EQ(c.scep.webhooks[0].secret_file, (dir_ / "hook.secret").string());
  EXPECT_TRUE(c.scep.webhooks[0].bearer_token_file.empty());
  EXPECT_EQ(c.scep.webhooks[1].role, "notify");
  EXPECT_EQ(c.scep.webhooks[1].secret_file, "/etc/s");
  EXPECT_EQ(c.scep.webhooks[1].bearer_token_file, (dir_ / "t").string());
  EXPECT_EQ((c.scep.webhooks[1].timeout_ms), 700);
  EXPECT_EQ(c.scep.webhooks[1].notify_attempts, 3);
  for (const char* bad : {"url = \"ftp://x\"\nsecret_file = \"s\"\n", "url = \"http://x\"\n",
                          "url = \"http://x\"\nsecret_file = \"s\"\nrole = \"both\"\n",
                          "url = \"http://x\"\nsecret_file = \"s\"\ntimeout_ms = 0\n",
                          "url = \"http://x\"\nsecret_file = \"s\"\ntimeout_ms = 60001\n",
                          "url = \"http://x\"\nsecret_file = \"s\"\nsecret = \"inline\"\n"})
    EXPECT_THROW(load_config(write(std::string("[[scep.webhooks]]\n") + bad)), ConfigError) << bad;
}

TEST_F(ConfigTest, IntuneIsOffByDefaultAndNeedsOneCredential) {
  const Config d = load_config(write(render_config(sample())));
  EXPECT_FALSE(d.mdm.intune.enabled);
  EXPECT_EQ(d.mdm.intune.graph_url, "https://graph.microsoft.com");
  const std::string base = "[mdm.intune]\nenabled = true\ntenant = \"contoso.example\"\nclient_id = \"app\"\n";
  const Config c = load_config(write(base + "client_secret_file = \"s\"\nlogin_url = \"https://127.0.0.1:9\"\n"
                                            "revocation_sync_seconds = 0\ngroups = [\"a\"]\n"));
  EXPECT_TRUE(c.mdm.intune.enabled);
  EXPECT_EQ(c.mdm.intune.client_secret_file, (dir_ / "s").string());
  EXPECT_EQ(c.mdm.intune.login_url, "https://127.0.0.1:9");
  EXPECT_EQ(c.mdm.intune.revocation_sync_seconds, 0);
  EXPECT_EQ(c.mdm.intune.groups, std::vector<std::string>{"a"});
  for (const std::string bad : {base, base + "client_secret_file = \"s\"\nclient_certificate_file = \"c\"\n",
                                base + "client_certificate_file = \"c\"\n",
                                base + "client_secret_file = \"s\"\nlogin_url = \"http://127.0.0.1\"\n",
                                base + "client_secret_file = \"s\"\nrevocation_batch = 501\n",
                                base + "client_secret_file = \"s\"\ngroups = [\"\"]\n",
                                base + "client_secret_file = \"s\"\nclient_secret = \"inline\"\n",
                                base + "client_secret_file = \"s\"\n[profiles.device]\nmanual_approval = true\n"})
    EXPECT_THROW(load_config(write(bad)), ConfigError) << bad;
}

TEST_F(ConfigTest, JamfIsOffByDefaultAndNeedsItsCredentials) {
  const Config d = load_config(write(render_config(sample())));
  EXPECT_FALSE(d.mdm.jamf.enabled);
  const Config c = load_config(write("[mdm.jamf]\nenabled = true\nuser = \"jamf\"\npassword_file = \"jamf.pw\"\n"
                                     "challenge_ttl_seconds = 600\nprofile = \"device\"\n"));
  EXPECT_TRUE(c.mdm.jamf.enabled);
  EXPECT_EQ(c.mdm.jamf.user, "jamf");
  EXPECT_EQ(c.mdm.jamf.password_file, (dir_ / "jamf.pw").string());
  EXPECT_EQ(c.mdm.jamf.challenge_ttl_seconds, 600);
  for (const char* bad : {"[mdm.jamf]\nenabled = true\npassword_file = \"p\"\n",
                          "[mdm.jamf]\nenabled = true\nuser = \"a:b\"\npassword_file = \"p\"\n",
                          "[mdm.jamf]\nenabled = true\nuser = \"u\"\n",
                          "[mdm.jamf]\nenabled = true\nuser = \"u\"\npassword_file = \"p\"\nprofile = \"nope\"\n",
                          "[mdm.jamf]\nenabled = true\nuser = \"u\"\npassword_file = \"p\"\n[scep]\nenabled = false\n",
                          "[mdm.jamf]\npassword = \"inline\"\n", "[mdm.intune]\nenabled = true\n", "[mdm]\njamf = 1\n"})
    EXPECT_THROW(load_config(write(bad)), ConfigError) << bad;
}

// The Jamf endpoint takes Basic credentials and answers challenges on the public listener,
// which speaks plain HTTP: only loopback or a TLS proxy in front keeps them off the wire.
TEST_F(ConfigTest, JamfNeedsThePublicListenerBehindTls) {
  const std::string jamf = "[mdm.jamf]\nenabled = true\nuser = \"u\"\npassword_file = \"p\"\n";
  try {
    load_config(write(jamf + "[http]\nbind = \"0.0.0.0\"\npublic_url = \"http://ca.example:8080\"\n"));
    FAIL() << "Jamf accepted on a plain-HTTP public listener";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("mdm.jamf.enabled"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("reachable only through TLS"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_config(write(jamf + "[http]\nbind = \"192.0.2.1\"\n")), ConfigError);
  EXPECT_TRUE(load_config(write(jamf + "[http]\nbind = \"0.0.0.0\"\npublic_url = \"https://ca.example\"\n"))
                  .mdm.jamf.enabled);
  EXPECT_TRUE(load_config(write(jamf + "[http]\nbind = \"::1\"\n")).mdm.jamf.enabled);
  // Off, it asks nothing of the listener.
  EXPECT_FALSE(load_config(write("[mdm.jamf]\nenabled = false\n[http]\nbind = \"0.0.0.0\"\n")).mdm.jamf.enabled);
}

// A Jamf challenge has no device until issuance; a request held for approval needs one.
TEST_F(ConfigTest, JamfRefusesAProfileWithManualApproval) {
  const std::string jamf = "[mdm.jamf]\nenabled = true\nuser = \"u\"\npassword_file = \"p\"\n";
  const std::string held = "[profiles.held]\nmanual_approval = true\n";
  for (const std::string& bad : {jamf + "profile = \"held\"\n" + held,
                                 jamf + "[scep]\nprofile = \"held\"\n" + held}) {
    try {
      load_config(write(bad));
      FAIL() << "accepted: " << bad;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("mdm.jamf.profile is 'held'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("manual_approval"), std::string::npos) << e.what();
    }
  }
  // Jamf in its own profile without approval, while [scep]'s waits for one.
  const Config c = load_config(write(jamf + "profile = \"device\"\n[scep]\nprofile = \"held\"\n" + held));
  EXPECT_EQ(c.mdm.jamf.profile, "device");
  EXPECT_TRUE(load_config(write("[scep]\nprofile = \"held\"\n" + held)).profiles.at("held").manual_approval);
}

TEST_F(ConfigTest, ReenrollAndRenewalWindowArePerProfile) {
  const Config d = load_config(write(render_config(sample())));
  EXPECT_TRUE(d.profiles.at("device").revoke_on_reenroll);
  EXPECT_EQ(d.profiles.at("device").renew_before_days, 0);
  const Config c = load_config(write("[profiles.byod]\non_reenroll = \"keep\"\nrenew_before_days = 30\n"));
  EXPECT_FALSE(c.profiles.at("byod").revoke_on_reenroll);
  EXPECT_EQ(c.profiles.at("byod").renew_before_days, 30);
  EXPECT_TRUE(c.profiles.at("device").revoke_on_reenroll);
  EXPECT_THROW(load_config(write("[profiles.device]\non_reenroll = \"delete\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[profiles.device]\nrenew_before_days = -1\n")), ConfigError);
}

// [ledger] backend = "postgresql": the url (no password) and an optional password_file,
// resolved against the config's folder; anything else is refused by name.
TEST_F(ConfigTest, PostgresqlLedgerNeedsAUrlAndRefusesUnknownBackends) {
  ConfigTemplate t = sample();
  t.ledger_url = "postgresql://portcullis@db.example:5432/ledger";
  t.ledger_password_file = "ledger.password";
  const Config c = load_config(write(render_config(t)));
  EXPECT_EQ(c.ledger.backend, "postgresql");
  EXPECT_EQ(c.ledger.url, "postgresql://portcullis@db.example:5432/ledger");
  EXPECT_EQ(c.ledger.password_file, (dir_ / "ledger.password").string());
  const auto refused = [&](const std::string& toml, const std::string& expected) {
    try {
      load_config(write(toml));
      ADD_FAILURE() << toml << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  refused("[ledger]\nbackend = \"oracle\"\n", "must be \"sqlite\" or \"postgresql\"");
  refused("[ledger]\nbackend = \"postgresql\"\n", "url is required");
  refused("[ledger]\nurl = \"postgresql://x@y/z\"\n", "are for backend = \"postgresql\"");
  refused("[ledger]\nbackend = \"postgresql\"\nurl = \"postgresql://x@y/z\"\npassword = \"p\"\n", "password");
}

// [ledger] pool_size: the PostgreSQL connections a node opens for statements; 8 unless
// set, 1..256, and refused on SQLite like url and password_file.
TEST_F(ConfigTest, LedgerPoolSizeDefaultsToEightIsBoundedAndIsForPostgresqlOnly) {
  const std::string postgresql = "[ledger]\nbackend = \"postgresql\"\nurl = \"postgresql://x@y/z\"\n";
  EXPECT_EQ(load_config(write(postgresql)).ledger.pool_size, 8);
  EXPECT_EQ(load_config(write("")).ledger.pool_size, 8);
  EXPECT_EQ(load_config(write(postgresql + "pool_size = 1\n")).ledger.pool_size, 1);
  EXPECT_EQ(load_config(write(postgresql + "pool_size = 32\n")).ledger.pool_size, 32);
  EXPECT_EQ(load_config(write(postgresql + "pool_size = 256\n")).ledger.pool_size, 256);
  const auto refused = [&](const std::string& toml, const std::string& expected) {
    try {
      load_config(write(toml));
      ADD_FAILURE() << toml << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  refused(postgresql + "pool_size = 0\n", "ledger.pool_size must be 1..256");
  refused(postgresql + "pool_size = 257\n", "ledger.pool_size must be 1..256");
  refused(postgresql + "pool_size = -1\n", "ledger.pool_size must be 1..256");
  refused(postgresql + "pool_size = 99999999999\n", "pool_size is out of range");
  refused(postgresql + "pool_size = \"8\"\n", "pool_size must be an integer");
  refused(postgresql + "pool_size = 8.0\n", "pool_size must be an integer");
  refused("[ledger]\npool_size = 8\n", "ledger.pool_size is for backend = \"postgresql\"");
  refused("[ledger]\nbackend = \"sqlite\"\npool_size = 4\n", "ledger.pool_size is for backend = \"postgresql\"");
}

// The setting reaches the PostgreSQL ledger's options (ca::PostgresLedgerOptions::pool_size).
TEST_F(ConfigTest, LedgerPoolSizeReachesThePostgresqlLedgerOptions) {
  const Config c = load_config(
      write("[ledger]\nbackend = \"postgresql\"\nurl = \"postgresql://x@y/z\"\npool_size = 24\n"));
  EXPECT_EQ(postgres_options(c.ledger).pool_size, 24U);
  EXPECT_EQ(postgres_options(c.ledger).url, "postgresql://x@y/z");
}

TEST_F(ConfigTest, NodeNameDefaultsToThisMachineAndIsChecked) {
  const Config d = load_config(write("[service]\nhostname = \"x\"\n"));
  EXPECT_EQ(d.service.node_name, machine_hostname());
  EXPECT_EQ(d.service.heartbeat_seconds, 10);
  ConfigTemplate t = sample();
  t.node_name = "radius-2.site_b";
  const Config c = load_config(write(render_config(t)));
  EXPECT_EQ(c.service.node_name, "radius-2.site_b");
  EXPECT_EQ(c.service.heartbeat_seconds, 10);
  for (const char* bad : {"node_name = \"a b\"", "node_name = \"<img>\"", "node_name = \"..\"",
                          "node_name = \".\"", "node_name = \"-x\"", "heartbeat_seconds = 0", "heartbeat_seconds = 301"})
    EXPECT_THROW(load_config(write(std::string("[service]\n") + bad + "\n")), ConfigError) << bad;
  EXPECT_THROW(load_config(write("[service]\nnode_name = \"" + std::string(65, 'n') + "\"\n")), ConfigError);
}

// `init --join`: the copied config gets the new node's name, in [service], whether A's
// config had the line or not (a config from before node_name).
TEST(RenameNode, ReplacesOrAddsTheServiceNodeNameOnly) {
  EXPECT_EQ(rename_node("[service]\nhostname = \"r\"\nnode_name = \"a\"   # this node\n[http]\nport = 1\n", "b"),
            "[service]\nhostname = \"r\"\nnode_name = \"b\"   # this node\n[http]\nport = 1\n");
  EXPECT_EQ(rename_node("[service]\nhostname = \"r\"\n\n[http]\nnode_name = \"a\"\n", "b"),
            "[service]\nhostname = \"r\"\n\nnode_name = \"b\"\n[http]\nnode_name = \"a\"\n");
  EXPECT_EQ(rename_node("[http]\nport = 1\n", "b"), "[http]\nport = 1\n\n[service]\nnode_name = \"b\"\n");
  EXPECT_EQ(rename_node("[service]\nnode_name = 'a'\n", "b"), "[service]\nnode_name = \"b\"\n");
}

TEST_F(ConfigTest, BadValuesAreRefused) {
  EXPECT_THROW(load_config(write("[http]\nport = 70000\n")), ConfigError);
  EXPECT_THROW(load_config(write("[http]\nport = \"80\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[service]\nlog_level = \"loud\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[ledger]\nbackend = \"oracle\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[bogus]\nx = 1\n")), ConfigError);
  EXPECT_THROW(load_config(write("[[radius.clients]]\nname = \"a\"\naddress = \"10.0.0.1\"\nsecret = \"short\"\n")),
               ConfigError);
  EXPECT_THROW(load_config(write("[[admin.tokens]]\nname = \"a\"\nsha256 = \"abc\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[profiles.device]\nmin_rsa_bits = 1024\n")), ConfigError);
  EXPECT_THROW(load_config(write("[profiles.device]\nextended_key_usage = [\"codeSigning\"]\n")), ConfigError);
  EXPECT_THROW(load_config(write("this is = = not toml")), ConfigError);
}

// Found by tests/fuzz/config_toml: an integer setting given as a float was converted by
// toml++, which casts 5.22e85 to int64 (undefined behaviour). Integer keys take TOML
// integers only (TOML 1.0: "Floats should be implemented as IEEE 754", integers are separate).
TEST_F(ConfigTest, FloatsAreNotIntegers) {
  for (const char* text : {"[http]\nport = 522e83\n", "[http]\nport = 8080.0\n", "[http]\nport = inf\n",
                           "[http]\nmax_body_bytes = 1048576.0\n"}) {
    try {
      load_config(write(text));
      ADD_FAILURE() << text << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("must be an integer"), std::string::npos) << e.what();
    }
  }
}

TEST_F(ConfigTest, ScepSectionLoadsAndDefaultsToModernCryptoOnly) {
  ConfigTemplate t = sample();
  t.scep_static_challenge = "0123456789ABCDEF0123456789ABCDEF";
  const std::string text = render_config(t);
  EXPECT_NE(text.find("micromdm scepclient 2.1.0"), std::string::npos);
  const Config c = load_config(write(text));
  EXPECT_TRUE(c.scep.enabled);
  EXPECT_EQ(c.scep.profile, "device");
  EXPECT_EQ(c.scep.static_challenge, "0123456789ABCDEF0123456789ABCDEF");
  EXPECT_FALSE(c.scep.allow_legacy_crypto);
  // Absent section: enabled, no static challenge, no legacy crypto.
  const Config d = load_config(write("[service]\nhostname = \"x\"\n"));
  EXPECT_TRUE(d.scep.enabled);
  EXPECT_TRUE(d.scep.static_challenge.empty());
  EXPECT_FALSE(d.scep.allow_legacy_crypto);
  EXPECT_TRUE(load_config(write("[scep]\nallow_legacy_crypto = true\nenabled = false\n")).scep.allow_legacy_crypto);
}

TEST_F(ConfigTest, BadScepValuesAreRefused) {
  EXPECT_THROW(load_config(write("[scep]\nstatic_challenge = \"short\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[scep]\nprofile = \"nonexistent\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[scep]\nallow_legacy_crypto = \"yes\"\n")), ConfigError);
  EXPECT_THROW(load_config(write("[scep]\nstatic_challange = \"0123456789abcdef0\"\n")), ConfigError);
}

TEST_F(ConfigTest, ScepRefusalAuditLimitsLoadWithDefaults) {
  const Config d = load_config(write("[service]\nhostname = \"x\"\n"));
  EXPECT_EQ(d.scep.refusal_rows_per_source_per_minute, 20);
  EXPECT_EQ(d.scep.refusal_rows_max, 100000);
  const Config c = load_config(write("[scep]\nrefusal_rows_per_source_per_minute = 5\nrefusal_rows_max = 1000\n"));
  EXPECT_EQ(c.scep.refusal_rows_per_source_per_minute, 5);
  EXPECT_EQ(c.scep.refusal_rows_max, 1000);
  EXPECT_THROW(load_config(write("[scep]\nrefusal_rows_max = 0\n")), ConfigError);
  EXPECT_THROW(load_config(write("[scep]\nrefusal_rows_per_source_per_minute = -1\n")), ConfigError);
  const Config rendered = load_config(write(render_config(sample())));
  EXPECT_EQ(rendered.scep.refusal_rows_max, 100000);
}

TEST_F(ConfigTest, EventsCanBeTurnedOff) {
  EXPECT_TRUE(load_config(write("[service]\nhostname = \"x\"\n")).events.enabled);
  EXPECT_FALSE(load_config(write("[events]\nenabled = false\n")).events.enabled);
  EXPECT_THROW(load_config(write("[events]\nenabled = \"no\"\n")), ConfigError);
  EXPECT_TRUE(load_config(write(render_config(sample()))).events.enabled);
}

TEST_F(ConfigTest, EventRetentionAndEapTimeoutLoadWithDefaults) {
  const Config d = load_config(write("[service]\nhostname = \"x\"\n"));
  EXPECT_EQ(d.events.keep_days, 30);
  EXPECT_EQ(d.events.max_rows, 5000000);
  EXPECT_EQ(d.events.queue, 20000);
  EXPECT_EQ(d.radius.eap_timeout_seconds, 60);
  const Config c = load_config(write("[events]\nkeep_days = 7\nmax_rows = 1000\nqueue = 50\n[radius]\neap_timeout_seconds = 5\n"));
  EXPECT_EQ(c.events.keep_days, 7);
  EXPECT_EQ(c.events.max_rows, 1000);
  EXPECT_EQ(c.events.queue, 50);
  EXPECT_EQ(c.radius.eap_timeout_seconds, 5);
  EXPECT_THROW(load_config(write("[events]\nkeep_days = 0\n")), ConfigError);
  EXPECT_THROW(load_config(write("[events]\nkeep_dayz = 3\n")), ConfigError);
  EXPECT_THROW(load_config(write("[radius]\neap_timeout_seconds = -1\n")), ConfigError);
  const Config rendered = load_config(write(render_config(sample())));
  EXPECT_EQ(rendered.events.max_rows, 5000000);
  EXPECT_EQ(rendered.radius.eap_timeout_seconds, 60);
}

TEST_F(ConfigTest, MetricsAndNotifySectionsLoadWithDefaultsAndAreValidated) {
  const Config d = load_config(write("[service]\nhostname = \"x\"\n"));
  EXPECT_TRUE(d.metrics.allow.empty());  // the token only
  EXPECT_TRUE(d.notify.webhook_url.empty());
  EXPECT_EQ(d.notify.expiry_window_days, 30);
  EXPECT_EQ(d.notify.check_interval_hours, 24);
  EXPECT_EQ(d.notify.reject_spike_per_minute, 0);
  const Config rendered = load_config(write(render_config(sample())));
  EXPECT_EQ(rendered.metrics.allow, (std::vector<std::string>{"127.0.0.1/32", "::1/128"}));
  const Config c = load_config(write("[metrics]\nallow = [\"10.0.0.0/8\", \"2001:db8::/32\"]\n"
                                     "[notify]\nwebhook_url = \"https://hooks.example.net/p\"\nexpiry_window_days = 14\n"
                                     "check_interval_hours = 6\nreject_spike_per_minute = 50\n"));
  EXPECT_EQ(c.metrics.allow.size(), 2u);
  EXPECT_EQ(c.notify.webhook_url, "https://hooks.example.net/p");
  EXPECT_EQ(c.notify.expiry_window_days, 14);
  EXPECT_EQ(c.notify.check_interval_hours, 6);
  EXPECT_EQ(c.notify.reject_spike_per_minute, 50);
  for (const char* bad : {"[metrics]\nallow = [\"10.0.0.1/8\"]\n", "[metrics]\nallow = [\"nowhere\"]\n",
                          "[metrics]\nallow = \"127.0.0.1\"\n", "[metrics]\nalow = []\n",
                          "[notify]\nwebhook_url = \"ftp://x/\"\n", "[notify]\nexpiry_window_days = 0\n",
                          "[notify]\ncheck_interval_hours = -1\n", "[notify]\nreject_spike_per_minute = -5\n",
                          "[notify]\nwebhook = \"http://x/\"\n"})
    EXPECT_THROW(load_config(write(bad)), ConfigError) << bad;
  // The webhook URL is checked whole at load, with what is wrong.
  const std::pair<const char*, const char*> urls[] = {
      {"http:///hook", "notify.webhook_url has no host"},
      {"https://hooks.example.net:0/p", "notify.webhook_url has a bad port"},
      {"https://ops:secret@hooks.example.net/p", "notify.webhook_url must not hold credentials"},
      {"hooks.example.net/p", "notify.webhook_url must start with http:// or https://"}};
  for (const auto& [url, message] : urls) {
    try {
      load_config(write(std::string("[notify]\nwebhook_url = \"") + url + "\"\n"));
      ADD_FAILURE() << url << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    }
  }
}

TEST_F(ConfigTest, AdminTlsIsForcedOffLoopback) {
  EXPECT_TRUE(load_config(write("[admin]\nbind = \"0.0.0.0\"\n")).admin_tls_effective());
  EXPECT_TRUE(load_config(write("[admin]\nbind = \"192.0.2.7\"\n")).admin_tls_effective());
  EXPECT_FALSE(load_config(write("[admin]\nbind = \"::1\"\n")).admin_tls_effective());
  EXPECT_TRUE(load_config(write("[admin]\nbind = \"127.0.0.1\"\ntls = true\n")).admin_tls_effective());
}

TEST(SecretsTest, GeneratedSecretsAreUrlSafeAndDistinct) {
  const std::string a = generate_secret(32), b = generate_secret(32);
  EXPECT_EQ(a.size(), 43u);  // 256 bits in base64url without padding
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
  const std::string h = generate_hex_secret(16);
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h.find_first_not_of("0123456789ABCDEF"), std::string::npos);
  EXPECT_NE(h, generate_hex_secret(16));
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2 B.1
}

}  // namespace
}  // namespace portcullis::app

namespace portcullis::app {
namespace {

class RadsecConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("portcullis-radsec-config-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& text) {
    const std::string path = (dir_ / "portcullis.toml").string();
    std::ofstream(path) << text;
    return path;
  }
  fs::path dir_;
};

TEST_F(RadsecConfigTest, OffByDefaultOnPort2083) {
  const Config c = load_config(write(""));
  EXPECT_FALSE(c.radsec.enabled);
  EXPECT_EQ(c.radsec.port, 2083);
  EXPECT_EQ(c.radsec.max_connections_per_nas, 8);
}

TEST_F(RadsecConfigTest, ARadsecClientIsNamedByCertificateAndItsSecretIsRadsec) {
  const Config c = load_config(write("[radsec]\nenabled = true\nport = 12083\nidle_timeout_seconds = 30\n"
                                     "[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\n"
                                     "certificate_name = \"wlc-1\"\nca_file = \"corp.pem\"\n"));
  EXPECT_TRUE(c.radsec.enabled);
  EXPECT_EQ(c.radsec.port, 12083);
  EXPECT_EQ(c.radsec.idle_timeout_seconds, 30);
  const RadiusClientSetting& client = c.radius.clients.at(0);
  EXPECT_EQ(client.transport, "radsec");
  EXPECT_EQ(client.secret, "radsec");  // RFC 6614 §2.3
  EXPECT_EQ(client.address, "");        // optional for RadSec
  EXPECT_EQ(client.ca_file, (dir_ / "corp.pem").string());
}

// RFC 9765 §3.3: both versions by default; a NAS may be made to require RADIUS/1.1, and
// may name a UDP secret for Disconnect/CoA when its connection is down.
TEST_F(RadsecConfigTest, RadiusVersionsAndTheUdpFallbackOfARadsecClient) {
  EXPECT_EQ(load_config(write("")).radsec.radius_versions, (std::vector<std::string>{"1.0", "1.1"}));
  const Config c = load_config(write("[radsec]\nradius_versions = [\"1.1\"]\n"
                                     "[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\n"
                                     "certificate_name = \"wlc-1\"\nrequire_radius_1_1 = true\n"
                                     "coa_port = 3798\ncoa_secret = \"0123456789abcdefghij\"\n"));
  EXPECT_EQ(c.radsec.radius_versions, (std::vector<std::string>{"1.1"}));
  const RadiusClientSetting& client = c.radius.clients.at(0);
  EXPECT_TRUE(client.require_radius_1_1);
  EXPECT_EQ(client.coa_port, 3798);
  EXPECT_EQ(client.coa_secret, "0123456789abcdefghij");
  EXPECT_TRUE(client.dynauth_over_connection);  // the default
  const Config off = load_config(write("[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\n"
                                       "certificate_name = \"wlc-1\"\ndynauth_over_connection = false\n"));
  EXPECT_FALSE(off.radius.clients.at(0).dynauth_over_connection);
}

TEST_F(RadsecConfigTest, BadRadsecSettingsAreRefused) {
  const std::string radsec = "[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\n";
  for (const std::string& bad : {
           radsec,                                                              // no certificate_name
           radsec + "certificate_name = \"wlc-1\"\nsecret = \"0123456789abcdefghij\"\n",  // another secret
           radsec + "certificate_name = \"wlc-1\"\naddress = \"10.0.0.1/8\"\n",           // host bits set
           std::string("[[radius.clients]]\nname = \"a\"\naddress = \"10.0.0.1\"\nsecret = \"0123456789abcdefghij\"\n"
                       "certificate_name = \"a\"\n"),                         // udp with a certificate name
           std::string("[[radius.clients]]\nname = \"a\"\naddress = \"10.0.0.1\"\nsecret = \"0123456789abcdefghij\"\n"
                       "transport = \"dtls\"\n"),
           std::string("[radsec]\nport = 0\n"),
           std::string("[radsec]\nmax_connections = 0\n"),
           std::string("[radsec]\nenable = true\n"),
           std::string("[radsec]\nradius_versions = []\n"),
           std::string("[radsec]\nradius_versions = [\"1.1\", \"2.0\"]\n"),
           radsec + "certificate_name = \"wlc-1\"\ncoa_secret = \"short\"\n",      // under 16
           std::string("[[radius.clients]]\nname = \"a\"\naddress = \"10.0.0.1\"\nsecret = \"0123456789abcdefghij\"\n"
                       "require_radius_1_1 = true\n"),                       // udp cannot speak RADIUS/1.1
           std::string("[[radius.clients]]\nname = \"a\"\naddress = \"10.0.0.1\"\nsecret = \"0123456789abcdefghij\"\n"
                       "dynauth_over_connection = true\n"),                  // udp has no connection
           radsec + "certificate_name = \"wlc-1\"\ndynauth_over_connection = \"no\"\n",  // not a boolean
       })
    EXPECT_THROW(load_config(write(bad)), ConfigError) << bad;
}

}  // namespace
}  // namespace portcullis::app
