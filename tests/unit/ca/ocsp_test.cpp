// OcspResponder against a real CA, the real SQLite ledger and the in-memory index: requests
// are built the way OpenSSL clients build them, responses checked the way clients check them.
#include "ca/hex.hpp"
#include "ca/ocsp.hpp"

#include "revocation_fixture.hpp"

#include <cstdlib>
#include <utility>
#include <vector>

namespace portcullis::ca::test {
namespace {

struct Target {
  const X509* cert;
  const X509* issuer;
};

OcspCertIdPtr cert_id(const EVP_MD* md, const Target& target) {
  return OcspCertIdPtr(OCSP_cert_to_id(md, target.cert, target.issuer));
}

OcspRequestPtr make_request(const std::vector<Target>& targets, bool with_nonce, const EVP_MD* md = EVP_sha1()) {
  OcspRequestPtr request(OCSP_REQUEST_new());
  for (const Target& target : targets) {
    OcspCertIdPtr id = cert_id(md, target);
    EXPECT_TRUE(id);
    if (OCSP_request_add0_id(request.get(), id.get()) != nullptr) id.release();   // owned by the request now
  }
  if (with_nonce) {
    EXPECT_EQ(OCSP_request_add1_nonce(request.get(), nullptr, -1), 1);
  }
  return request;
}

Bytes to_der(OCSP_REQUEST* request) {
  const int len = i2d_OCSP_REQUEST(request, nullptr);
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  i2d_OCSP_REQUEST(request, &out);
  return der;
}

OcspResponsePtr parse_response(const Bytes& der) {
  const unsigned char* p = der.data();
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_EQ(p, der.data() + der.size());
  return response;
}

struct SingleStatus {
  bool found = false;
  int status = -1;
  int reason = -1;
  UnixTime revoked_at = 0;
  UnixTime this_update = 0;
  UnixTime next_update = 0;
};

SingleStatus find_status(OCSP_BASICRESP* basic, const EVP_MD* md, const Target& target) {
  SingleStatus out;
  OcspCertIdPtr id = cert_id(md, target);
  ASN1_GENERALIZEDTIME* revoked = nullptr;
  ASN1_GENERALIZEDTIME* this_update = nullptr;
  ASN1_GENERALIZEDTIME* next_update = nullptr;
  out.found = OCSP_resp_find_status(basic, id.get(), &out.status, &out.reason, &revoked, &this_update,
                                    &next_update) == 1;
  if (revoked != nullptr) out.revoked_at = asn1_time_to_unix(revoked);
  if (this_update != nullptr) out.this_update = asn1_time_to_unix(this_update);
  if (next_update != nullptr) out.next_update = asn1_time_to_unix(next_update);
  return out;
}

class OcspTest : public RevocationFixture {
 protected:
  static constexpr int kValidityHours = 2;

  OcspTest() : responder_(authority(), index_, kValidityHours) {}

  Target ours(const X509Ptr& cert) const { return Target{cert.get(), authority().issuing()}; }

  // Sends the request and returns the verified basic response (chain up to our root).
  OcspBasicRespPtr exchange(OCSP_REQUEST* request, unsigned long verify_flags = 0) {
    const Bytes der = responder_.respond(to_der(request), now_);
    OcspResponsePtr response = parse_response(der);
    EXPECT_TRUE(response);
    if (!response) return nullptr;
    EXPECT_EQ(OCSP_response_status(response.get()), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    OcspBasicRespPtr basic(OCSP_response_get1_basic(response.get()));
    EXPECT_TRUE(basic);
    if (!basic) return nullptr;
    X509StorePtr store(X509_STORE_new());
    X509Ptr root(X509_dup(authority().root()));
    EXPECT_EQ(X509_STORE_add_cert(store.get(), root.get()), 1);
    EXPECT_EQ(OCSP_basic_verify(basic.get(), nullptr, store.get(), verify_flags), 1);
    return basic;
  }

  int status_of(const Bytes& request_der) {
    OcspResponsePtr response = parse_response(responder_.respond(request_der, now_));
    EXPECT_TRUE(response);
    return response ? OCSP_response_status(response.get()) : -1;
  }

  OcspResponder responder_;
};

TEST_F(OcspTest, GoodRevokedAndUnknownInOneVerifiedResponse) {
  const X509Ptr good = issue("laptop-1");
  const X509Ptr compromised = issue("laptop-2");
  const X509Ptr unspecified = issue("laptop-3");
  revoke(compromised.get(), RevocationReason::key_compromise, now_ - 600);
  revoke(unspecified.get(), RevocationReason::unspecified, now_ - 300);
  // Signed with our key but never recorded: the ledger does not know the serial.
  const X509Ptr unrecorded =
      sign_leaf(authority().issuing(), authority().issuing_key(), fresh_serial(), "ghost", now_ - 60, now_ + 3600);

  OcspRequestPtr request = make_request({ours(good), ours(compromised), ours(unspecified), ours(unrecorded)}, true);
  OcspBasicRespPtr basic = exchange(request.get());
  ASSERT_TRUE(basic);
  EXPECT_EQ(OCSP_resp_count(basic.get()), 4);
  EXPECT_EQ(OCSP_check_nonce(request.get(), basic.get()), 1);

  const SingleStatus g = find_status(basic.get(), EVP_sha1(), ours(good));
  ASSERT_TRUE(g.found);
  EXPECT_EQ(g.status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_EQ(g.this_update, now_);
  EXPECT_EQ(g.next_update, now_ + kValidityHours * 3600);

  const SingleStatus r = find_status(basic.get(), EVP_sha1(), ours(compromised));
  ASSERT_TRUE(r.found);
  EXPECT_EQ(r.status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(r.reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
  EXPECT_EQ(r.revoked_at, now_ - 600);

  const SingleStatus u = find_status(basic.get(), EVP_sha1(), ours(unspecified));
  ASSERT_TRUE(u.found);
  EXPECT_EQ(u.status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(u.reason, OCSP_REVOKED_STATUS_NOSTATUS) << "unspecified is sent as an absent reason";
  EXPECT_EQ(u.revoked_at, now_ - 300);

  const SingleStatus x = find_status(basic.get(), EVP_sha1(), ours(unrecorded));
  ASSERT_TRUE(x.found);
  EXPECT_EQ(x.status, V_OCSP_CERTSTATUS_UNKNOWN);
}

TEST_F(OcspTest, SignedByTheIssuingCaWithAKeyHashResponderId) {
  const X509Ptr cert = issue("laptop-1");
  OcspRequestPtr request = make_request({ours(cert)}, false);
  OcspBasicRespPtr basic = exchange(request.get());
  ASSERT_TRUE(basic);

  const ASN1_OCTET_STRING* key_hash = nullptr;
  const X509_NAME* by_name = nullptr;
  ASSERT_EQ(OCSP_resp_get0_id(basic.get(), &key_hash, &by_name), 1);
  EXPECT_EQ(by_name, nullptr);
  ASSERT_NE(key_hash, nullptr);
  unsigned char expected[EVP_MAX_MD_SIZE];
  unsigned int expected_len = 0;
  ASSERT_EQ(X509_pubkey_digest(authority().issuing(), EVP_sha1(), expected, &expected_len), 1);
  ASSERT_EQ(ASN1_STRING_length(key_hash), static_cast<int>(expected_len));
  EXPECT_EQ(Bytes(ASN1_STRING_get0_data(key_hash), ASN1_STRING_get0_data(key_hash) + expected_len),
            Bytes(expected, expected + expected_len));

  const STACK_OF(X509)* certs = OCSP_resp_get0_certs(basic.get());
  ASSERT_EQ(sk_X509_num(certs), 1);
  EXPECT_EQ(X509_cmp(sk_X509_value(certs, 0), authority().issuing()), 0);

  int digest_nid = NID_undef;
  int key_nid = NID_undef;
  const ASN1_OBJECT* signature_oid = nullptr;
  X509_ALGOR_get0(&signature_oid, nullptr, nullptr, OCSP_resp_get0_tbs_sigalg(basic.get()));
  ASSERT_EQ(OBJ_find_sigid_algs(OBJ_obj2nid(signature_oid), &digest_nid, &key_nid), 1);
  EXPECT_EQ(digest_nid, EVP_MD_get_type(authority().signing_digest()));
}

TEST_F(OcspTest, ExpiredNotYetValidAndDisabledDeviceAreNotRevoked) {
  const X509Ptr expired = issue("old-laptop", now_ - 10 * 86400, now_ - 86400);
  const X509Ptr future = issue("new-laptop", now_ + 86400, now_ + 10 * 86400);
  const X509Ptr disabled = issue("lost-phone");
  const auto device = ledger_->find_device_by_name("lost-phone");
  ASSERT_TRUE(device.has_value());
  registry_.set_device_enabled(device->id, false, "test");

  OcspRequestPtr request = make_request({ours(expired), ours(future), ours(disabled)}, true);
  OcspBasicRespPtr basic = exchange(request.get());
  ASSERT_TRUE(basic);
  for (const X509Ptr* cert : {&expired, &future, &disabled}) {
    const SingleStatus s = find_status(basic.get(), EVP_sha1(), ours(*cert));
    ASSERT_TRUE(s.found);
    EXPECT_EQ(s.status, V_OCSP_CERTSTATUS_GOOD) << subject_string(cert->get());
  }
}

TEST_F(OcspTest, AnotherIssuerIsUnknownEvenWithOurSerialOrOurName) {
  const X509Ptr good = issue("laptop-1");
  const X509Ptr revoked = issue("laptop-2");
  revoke(revoked.get(), RevocationReason::key_compromise, now_);

  const X509NamePtr other_name = make_name({{"CN", "Some Other CA"}});
  const ForeignCa other(other_name.get());
  // Same subject name as our issuing CA, different key: only issuerKeyHash tells them apart.
  const ForeignCa impostor(X509_get_subject_name(authority().issuing()));
  const X509Ptr other_leaf =
      sign_leaf(other.cert.get(), other.key.get(), serial_bytes(good.get()), "other", now_ - 60, now_ + 3600);
  const X509Ptr impostor_leaf =
      sign_leaf(impostor.cert.get(), impostor.key.get(), serial_bytes(revoked.get()), "impostor", now_ - 60,
                now_ + 3600);
  const Target foreign{other_leaf.get(), other.cert.get()};
  const Target lookalike{impostor_leaf.get(), impostor.cert.get()};

  OcspRequestPtr request = make_request({foreign, lookalike}, true);
  // OCSP_NOCHECKS: the signature and our chain are verified, but OpenSSL's "is the signer
  // the issuer of these CertIDs" check must fail here, as it should.
  OcspBasicRespPtr basic = exchange(request.get(), OCSP_NOCHECKS);
  ASSERT_TRUE(basic);
  for (const Target& target : {foreign, lookalike}) {
    const SingleStatus s = find_status(basic.get(), EVP_sha1(), target);
    ASSERT_TRUE(s.found);
    EXPECT_EQ(s.status, V_OCSP_CERTSTATUS_UNKNOWN);
  }
}

TEST_F(OcspTest, Sha256CertIdsAreMatchedWithTheirOwnAlgorithm) {
  const X509Ptr good = issue("laptop-1");
  const X509Ptr revoked = issue("laptop-2");
  revoke(revoked.get(), RevocationReason::superseded, now_ - 5);

  OcspRequestPtr request = make_request({ours(good), ours(revoked)}, true, EVP_sha256());
  OcspBasicRespPtr basic = exchange(request.get());
  ASSERT_TRUE(basic);
  const SingleStatus g = find_status(basic.get(), EVP_sha256(), ours(good));
  ASSERT_TRUE(g.found);
  EXPECT_EQ(g.status, V_OCSP_CERTSTATUS_GOOD);
  const SingleStatus r = find_status(basic.get(), EVP_sha256(), ours(revoked));
  ASSERT_TRUE(r.found);
  EXPECT_EQ(r.status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(r.reason, OCSP_REVOKED_STATUS_SUPERSEDED);
  EXPECT_EQ(r.revoked_at, now_ - 5);
}

TEST_F(OcspTest, NonceIsEchoedOnlyWhenTheRequestHasOne) {
  const X509Ptr cert = issue("laptop-1");

  OcspRequestPtr with_nonce = make_request({ours(cert)}, true);
  OcspBasicRespPtr echoed = exchange(with_nonce.get());
  ASSERT_TRUE(echoed);
  EXPECT_EQ(OCSP_check_nonce(with_nonce.get(), echoed.get()), 1);

  OcspRequestPtr without = make_request({ours(cert)}, false);
  OcspBasicRespPtr plain = exchange(without.get());
  ASSERT_TRUE(plain);
  EXPECT_EQ(OCSP_check_nonce(without.get(), plain.get()), 2) << "neither side carries a nonce";
  EXPECT_LT(OCSP_BASICRESP_get_ext_by_NID(plain.get(), NID_id_pkix_OCSP_Nonce, -1), 0);
}

TEST_F(OcspTest, RevocationShowsUpImmediatelyWithoutARestart) {
  const X509Ptr cert = issue("laptop-1");
  OcspRequestPtr request = make_request({ours(cert)}, false);
  OcspBasicRespPtr before = exchange(request.get());
  ASSERT_TRUE(before);
  EXPECT_EQ(find_status(before.get(), EVP_sha1(), ours(cert)).status, V_OCSP_CERTSTATUS_GOOD);

  revoke(cert.get(), RevocationReason::privilege_withdrawn, now_);
  OcspBasicRespPtr after = exchange(request.get());
  ASSERT_TRUE(after);
  const SingleStatus s = find_status(after.get(), EVP_sha1(), ours(cert));
  EXPECT_EQ(s.status, V_OCSP_CERTSTATUS_REVOKED);
  EXPECT_EQ(s.reason, OCSP_REVOKED_STATUS_PRIVILEGEWITHDRAWN);
  EXPECT_EQ(s.revoked_at, now_);
}

TEST_F(OcspTest, GarbageGetsMalformedRequestAndNoBody) {
  const X509Ptr cert = issue("laptop-1");
  const Bytes valid = to_der(make_request({ours(cert)}, true).get());
  Bytes truncated(valid.begin(), valid.end() - 1);
  Bytes trailing = valid;
  trailing.push_back(0x00);
  const Bytes empty_list = to_der(OcspRequestPtr(OCSP_REQUEST_new()).get());

  const std::vector<Bytes> inputs = {
      {},
      {0x00},
      {0x30, 0x82, 0xFF, 0xFF, 0x01},                 // claims 64 KiB, carries one byte
      Bytes{'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'},  // not DER at all
      truncated,
      trailing,
      cert_to_der(cert.get()),                        // well-formed DER, wrong type
      empty_list,                                     // a request for nothing
  };
  for (const Bytes& input : inputs) {
    const Bytes der = responder_.respond(input, now_);
    OcspResponsePtr response = parse_response(der);
    ASSERT_TRUE(response);
    EXPECT_EQ(OCSP_response_status(response.get()), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST) << to_hex(input);
    EXPECT_FALSE(OcspBasicRespPtr(OCSP_response_get1_basic(response.get())));
  }
  EXPECT_EQ(status_of(valid), OCSP_RESPONSE_STATUS_SUCCESSFUL);
}

// Found by tests/fuzz/ocsp_request: a CertID whose hashAlgorithm parameters are an empty
// constructed [UNIVERSAL 0] (20 00) parses, but OpenSSL cannot decode its own re-encoding,
// so the CertID cannot be echoed (RFC 6960 §4.2.1). The client's request is at fault:
// malformedRequest, not internalError.
TEST_F(OcspTest, ACertIdThatCannotBeEchoedIsMalformedNotInternalError) {
  const Bytes request = from_hex(
      "30763074304d304b3049300906052b0e78020420000414ad6a91f9dff9487b0ec9385b4abd87c028de853c041414bee6e76d667c"
      "4a6464cce7f2630e756d6adc82021075ab67d4be8e9ca40484db07d2a255eba2233021301f06092b060105050730010204120410"
      "121730475f70e5dbe3703c6d8127ed12");
  EXPECT_EQ(status_of(request), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
}

TEST_F(OcspTest, TheNumberOfCertIdsPerRequestIsBounded) {
  const X509Ptr cert = issue("laptop-1");
  std::vector<Target> targets(OcspResponder::kMaxRequestsPerMessage, ours(cert));

  OcspRequestPtr at_limit = make_request(targets, false);
  OcspBasicRespPtr basic = exchange(at_limit.get());
  ASSERT_TRUE(basic);
  EXPECT_EQ(OCSP_resp_count(basic.get()), static_cast<int>(OcspResponder::kMaxRequestsPerMessage));

  targets.push_back(ours(cert));
  EXPECT_EQ(status_of(to_der(make_request(targets, false).get())), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
}

TEST_F(OcspTest, OpensslCommandLineVerifiesAndReportsRevoked) {
  const X509Ptr cert = issue("laptop-1");
  revoke(cert.get(), RevocationReason::key_compromise, now_ - 60);

  // `openssl ocsp -cert` names the certificate with a SHA-1 CertID, as built here.
  OcspRequestPtr request = make_request({ours(cert)}, false);
  const Bytes response = responder_.respond(to_der(request.get()), now_);
  const std::string response_path = (dir_ / "response.der").string();
  const std::string leaf_path = (dir_ / "leaf.pem").string();
  const std::string out_path = (dir_ / "ocsp.txt").string();
  write_file(response_path, std::string_view(reinterpret_cast<const char*>(response.data()), response.size()));
  write_file(leaf_path, cert_to_pem(cert.get()));

  const CaPaths& paths = authority().paths();
  const std::string command = "openssl ocsp -respin '" + response_path + "' -issuer '" + paths.issuing() +
                              "' -CAfile '" + paths.root() + "' -cert '" + leaf_path + "' -no_nonce > '" +
                              out_path + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_file(out_path);
  const std::string text = read_file(out_path);
  EXPECT_NE(text.find("Response verify OK"), std::string::npos) << text;
  EXPECT_NE(text.find(": revoked"), std::string::npos) << text;
  EXPECT_NE(text.find("Reason: keyCompromise"), std::string::npos) << text;
}

}  // namespace
}  // namespace portcullis::ca::test
