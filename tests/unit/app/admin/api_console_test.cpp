// The admin API routes the browser console reads and acts through: event text, device
// filters and groups, sessions (ids, SSIDs, disconnect), policy test, overview, NAS list.
#include "tests/unit/app/admin/api_fixture.hpp"

namespace {

TEST_F(AdminApiTest, EveryEventCarriesTheSentenceWhySaysForIt) {
  const auto now = static_cast<ca::UnixTime>(std::time(nullptr));
  ca::Event radius;
  radius.at = now - 40;
  radius.kind = "radius";
  radius.outcome = "reject";
  radius.reason = "device_disabled";
  radius.device = "laptop-9";
  radius.nas = "wlc-1";
  ca::Event scep;
  scep.at = now - 30;
  scep.kind = "scep";
  scep.outcome = "reject";
  scep.reason = "challenge_used";
  scep.cn = "laptop-9";
  ca::Event dynauth;
  dynauth.at = now - 20;
  dynauth.kind = "dynauth";
  dynauth.outcome = "timeout";
  dynauth.reason = "timeout";
  dynauth.nas = "wlc-1";
  dynauth.detail = "Disconnect timeout for session s-1 (revoked) after 3 attempt(s), 3000 ms";
  ca::Event drop;
  drop.at = now - 10;
  drop.kind = "nas";
  drop.outcome = "drop";
  drop.reason = "bad_message_authenticator";
  drop.nas_ip = "192.0.2.9";
  drop.count = 7;
  ledger_->append_events({radius, scep, dynauth, drop});

  Reply all = call("GET", "/api/v1/events");
  ASSERT_EQ(all.status, 200) << all.raw.body;
  ASSERT_EQ(all.body["events"].size(), 4u);
  const json& e = all.body["events"];
  EXPECT_EQ(e[0]["text"],
            "7 datagrams from 192.0.2.9 were dropped: its Message-Authenticator did not verify, which usually means "
            "the shared secret differs between the NAS and its [[radius.clients]] entry");
  EXPECT_EQ(e[1]["text"],
            "NAS wlc-1 did not answer after every retransmission (" + dynauth.detail +
                "): check the client's coa_port and that the NAS accepts dynamic authorization from this server");
  // The same sentences as `why` (why_words.cpp), not a second wording.
  Reply why = call("GET", "/api/v1/why/laptop-9");
  ASSERT_EQ(why.status, 200) << why.raw.body;
  EXPECT_EQ(e[2]["text"], why.body["enrollment"]["explanation"]);
  EXPECT_EQ(e[3]["text"], why.body["latest"][0]["explanation"]);
  EXPECT_EQ(e[3]["text"], "the device is disabled; to let it back in: `portcullis devices enable laptop-9`");
}

}  // namespace
