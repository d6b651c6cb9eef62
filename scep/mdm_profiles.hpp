// Per-device MDM documents that point a device at our SCEP endpoint and then at our
// EAP-TLS Wi-Fi: an Apple .mobileconfig, the Android Enterprise settings (SCEP values for
// the MDM agent + a Wi-Fi ONC), and the Windows ClientCertificateInstall/SCEP CSP values.
// Pure functions over an inputs struct (no files, no network, no ledger): the caller mints
// the one-time challenge and loads the certificates. Only the UUIDs/GUIDs are random.
#pragma once

#include "ca/x509.hpp"

#include <string>
#include <string_view>

namespace portcullis::scep {

struct MdmProfileInputs {
  std::string device;           // the certificate subject's CN; also labels the document
  std::string challenge;        // a fresh one-time challenge bound to `device`
  std::string scep_url;         // <http.public_url>/scep
  std::string ca_name;          // SCEP CA identifier (Apple "Name", RFC 8894 §3.5.1 message=)
  std::string eap_server_name;  // service.hostname: the RADIUS/EAP server certificate's name
  std::string ssid;             // Wi-Fi network (Apple, Android); unused by the Windows document
  bool wpa3 = false;            // WPA3-Enterprise instead of WPA2-Enterprise
  ca::Bytes root_der;           // trust anchor for the EAP server and for SCEP (CAFingerprint, CAThumbprint)
  int validity_days = 365;      // the certificate profile's validity (Windows ValidPeriodUnits)
  // The certificate profile's renewal window (ca::Profile::renew_before_days; 0 = any time):
  // when the MDM should push the document again so the device renews before expiry.
  int renew_before_days = 0;
};

// When the MDM should renew, from the profile's validity and renewal window: the profile's
// renew_before_days when set (at most the validity), else the last fifth of the validity
// (Intune's and Configuration Manager's default renewal threshold, 20 %). The percentage is
// of the validity, rounded up, 1..100.
struct RenewalTiming {
  int renew_before_days = 0;
  int threshold_percent = 0;
};
RenewalTiming renewal_timing(const MdmProfileInputs& in);

// Apple Configuration Profile (XML property list): com.apple.security.root,
// com.apple.security.scep and com.apple.wifi.managed payloads that reference each other.
// Throws std::invalid_argument when a text field cannot be put into XML 1.0 (control
// characters) or a required field is empty.
std::string apple_mobileconfig(const MdmProfileInputs& in);

// {"scep": {...}, "onc": {Open Network Configuration}} for an Android Enterprise MDM/DPC.
std::string android_profile_json(const MdmProfileInputs& in);

// {"csp": "ClientCertificateInstall", "node": ".../SCEP/<id>/Install", "values": {...}}.
std::string windows_profile_json(const MdmProfileInputs& in);

// XML character data / attribute escaping (& < > " '); std::invalid_argument for characters
// XML 1.0 §2.2 does not allow (C0 controls other than TAB, LF, CR).
std::string xml_escape(std::string_view text);
// RFC 4122 §4.4 version-4 UUID from RAND_bytes, uppercase "XXXXXXXX-XXXX-4XXX-YXXX-XXXXXXXXXXXX".
std::string random_uuid_v4();

}  // namespace portcullis::scep
